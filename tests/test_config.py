"""The configuration: the project's own loads, and every bad input is rejected with a message
naming environment, service and field, all problems at once."""

from __future__ import annotations

import pytest

from cfn import config
from tests.conftest import problems_of


def test_project_config_loads_with_three_environments_and_three_services(platform):
    assert list(platform.environments) == ["dev", "staging", "prod"]
    assert [(s.name, s.port) for s in platform.services] == [
        ("sportmonks-service", 8000),
        ("database-service", 8001),
        ("orchestrator-service", 8002),
    ]


def test_environment_differences_are_values(platform):
    dev, prod = platform.env("dev"), platform.env("prod")
    assert dev.nat_gateways == 1 and platform.env("staging").nat_gateways == 1
    assert prod.nat_gateways == prod.az_count >= 2
    assert dev.log_retention_days == 30
    assert prod.log_retention_days > dev.log_retention_days
    sizing = dev.sizing_of(dev.service("sportmonks-service"))
    assert (sizing.cpu, sizing.memory, sizing.min_count, sizing.max_count) == (256, 512, 1, 4)


def test_config_objects_are_immutable(platform):
    with pytest.raises(AttributeError):
        platform.env("dev").vpc_cidr = "10.0.0.0/16"


def test_fargate_cpu_memory_pair_rejected_with_valid_pairs_listed(raw):
    raw["environments"]["dev"]["service_defaults"]["memory"] = 4096
    problems = problems_of(raw)
    assert (
        "environment dev, service sportmonks-service: cpu/memory 256/4096 is not a Fargate "
        "combination; with cpu 256 memory must be one of 512, 1024, 2048" in problems
    )


def test_unknown_fargate_cpu_rejected(raw):
    raw["environments"]["prod"]["services"]["orchestrator-service"]["cpu"] = 300
    problems = problems_of(raw)
    assert any(
        p.startswith(
            "environment prod, service orchestrator-service: cpu 300 is not a Fargate size"
        )
        for p in problems
    ), problems


def test_duplicate_port_rejected(raw):
    raw["services"][1]["port"] = 8000
    assert "service database-service: port 8000 already used by service sportmonks-service" in (
        problems_of(raw)
    )


def test_duplicate_service_name_rejected(raw):
    raw["services"][1]["name"] = "sportmonks-service"
    problems = problems_of(raw)
    assert any("duplicate service name" in p for p in problems), problems


def test_invalid_cidr_rejected(raw):
    raw["environments"]["dev"]["vpc_cidr"] = "10.10.0.0/33"
    problems = problems_of(raw)
    assert any(
        p.startswith("environment dev: vpc_cidr '10.10.0.0/33' is not a valid CIDR")
        for p in problems
    ), problems


def test_overlapping_environment_cidrs_rejected(raw):
    raw["environments"]["staging"]["vpc_cidr"] = "10.10.0.0/16"
    raw["environments"]["staging"]["public_subnets"] = ["10.10.0.0/24", "10.10.1.0/24"]
    raw["environments"]["staging"]["private_subnets"] = ["10.10.16.0/20", "10.10.32.0/20"]
    assert (
        "environment staging: vpc_cidr 10.10.0.0/16 overlaps environment dev's 10.10.0.0/16"
        in problems_of(raw)
    )


def test_subnet_outside_vpc_rejected(raw):
    raw["environments"]["dev"]["private_subnets"][1] = "10.99.0.0/20"
    assert (
        "environment dev: private_subnets entry 10.99.0.0/20 does not fit in vpc_cidr 10.10.0.0/16"
        in problems_of(raw)
    )


def test_overlapping_subnets_rejected(raw):
    raw["environments"]["dev"]["private_subnets"][0] = "10.10.0.0/20"
    problems = problems_of(raw)
    assert any(
        "private_subnets entry 10.10.0.0/20 overlaps" in p
        or "overlaps private_subnets entry 10.10.0.0/20" in p
        for p in problems
    ), problems


def test_fewer_than_two_availability_zones_rejected(raw):
    env = raw["environments"]["dev"]
    env["public_subnets"], env["private_subnets"] = (
        env["public_subnets"][:1],
        env["private_subnets"][:1],
    )
    problems = problems_of(raw)
    assert any(p.startswith("environment dev: at least 2 availability zones") for p in problems)


def test_more_nat_gateways_than_zones_rejected(raw):
    raw["environments"]["dev"]["nat_gateways"] = 3
    assert (
        "environment dev: nat_gateways 3 must be between 1 and the number of availability zones (2)"
        in problems_of(raw)
    )


def test_log_retention_not_accepted_by_cloudwatch_rejected(raw):
    raw["environments"]["prod"]["log_retention_days"] = 42
    problems = problems_of(raw)
    assert any(
        p.startswith("environment prod: log_retention_days 42 is not accepted by CloudWatch Logs")
        and "365" in p
        for p in problems
    ), problems


@pytest.mark.parametrize(
    ("kind", "limit", "mutate"),
    [
        # insightxi-staging-<discovery_name> must fit a 32-character target group name.
        (
            "target group",
            32,
            lambda raw: raw["services"][0].update(discovery_name="sportmonks-live-feed"),
        ),
        # the ALB name grows with the environment's name.
        ("load balancer", 32, lambda raw: raw.update(project="insightxiplatformprod")),
        # <prefix>-<discovery_name>-execution must fit 64 characters.
        ("IAM role", 64, lambda raw: raw["services"][0].update(discovery_name="s" * 50)),
    ],
)
def test_physical_name_over_aws_limit_rejected(raw, kind, limit, mutate):
    mutate(raw)
    problems = problems_of(raw)
    assert any(f"{kind} name" in p and f"AWS allows {limit}" in p for p in problems), problems


def test_nested_stack_name_over_128_rejected(raw):
    long_name = "a" + "b" * 110
    raw["services"][2]["name"] = long_name  # the orchestrator: no other service depends on it
    del raw["environments"]["prod"]["services"]["orchestrator-service"]
    problems = problems_of(raw)
    assert any("stack name" in p and "AWS allows 128" in p for p in problems), problems


def test_several_problems_reported_at_once(raw):
    raw["environments"]["dev"]["log_retention_days"] = 42
    raw["environments"]["dev"]["service_defaults"]["memory"] = 4096
    raw["environments"]["prod"]["vpc_cidr"] = "not-a-cidr"
    raw["services"][2]["port"] = 8001
    problems = problems_of(raw)
    assert len(problems) >= 4
    joined = "\n".join(problems)
    for needle in ("log_retention_days 42", "cpu/memory 256/4096", "'not-a-cidr'", "port 8001"):
        assert needle in joined


def test_unknown_field_named_with_known_fields(raw):
    raw["environments"]["dev"]["nat_gateway"] = 1
    problems = problems_of(raw)
    assert any(
        p.startswith("environment dev: unknown field 'nat_gateway' (known:") for p in problems
    )


def test_wrong_type_named(raw):
    raw["services"][0]["port"] = "8000"
    assert "service sportmonks-service: port must be an integer, got '8000'" in problems_of(raw)


def test_override_for_unknown_service_rejected(raw):
    raw["environments"]["prod"]["services"]["billing-service"] = {"cpu": 512}
    problems = problems_of(raw)
    assert any("services.billing-service is not a service in the catalogue" in p for p in problems)


def test_desired_count_outside_scaling_bounds_rejected(raw):
    raw["environments"]["dev"]["service_defaults"]["desired_count"] = 9
    problems = problems_of(raw)
    assert any(
        "desired_count 9 must lie between min_count 1 and max_count 4" in p for p in problems
    )


def test_unknown_environment_lists_known_ones(platform):
    with pytest.raises(
        config.ConfigError, match="unknown environment 'qa'; known: dev, staging, prod"
    ):
        platform.env("qa")


def test_missing_file_and_bad_toml_are_config_errors(tmp_path):
    with pytest.raises(config.ConfigError, match="configuration file not found"):
        config.load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("project = \n")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.load(bad)
