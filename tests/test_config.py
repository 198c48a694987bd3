"""The configuration: the project's own loads, and every bad input is rejected with a message
naming environment, service and field, all problems at once; AWS's limits are named with their
source. Services and environments come from the project's configuration (the `raw` fixture)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cfn import config, limits
from tests.conftest import problems_of


def cited(text: str, limit_id: str) -> str:
    """A problem as it reads when it is one of AWS's limits: the text, then the limit's source."""
    return f"{text} {limits.cite(limit_id)}"


def envs(raw: dict[str, Any]) -> list[str]:
    return list(raw["environments"])


def names(raw: dict[str, Any]) -> list[str]:
    return [s["name"] for s in raw["services"]]


def independent(raw: dict[str, Any]) -> int:
    """Index of a service no other service depends on (renaming it breaks nothing else)."""
    needed = {d for s in raw["services"] for d in s.get("depends_on", [])}
    return next(i for i, s in enumerate(raw["services"]) if s["name"] not in needed)


def test_project_config_loads_every_environment_and_service(platform, raw):
    assert list(platform.environments) == envs(raw)
    assert [(s.name, s.port) for s in platform.services] == [
        (s["name"], s["port"]) for s in raw["services"]
    ]
    for env in platform.environments.values():
        assert [s.name for s in env.services] == names(raw)
        assert set(env.sizing) == set(names(raw))


def test_environment_differences_are_values(platform, raw):
    for name, table in raw["environments"].items():
        env = platform.env(name)
        assert (env.nat_gateways, env.log_retention_days, env.region) == (
            table["nat_gateways"],
            table["log_retention_days"],
            table["region"],
        )
        assert env.az_count == len(table["public_subnets"])
        for s in env.services:
            want = {**table["service_defaults"], **table.get("services", {}).get(s.name, {})}
            z = env.sizing_of(s)
            assert (z.cpu, z.memory, z.min_count, z.max_count) == (
                want["cpu"],
                want["memory"],
                want["min_count"],
                want["max_count"],
            )


def test_service_environment_is_sorted_pairs(platform, raw):
    for s, table in zip(platform.services, raw["services"], strict=True):
        assert s.environment == tuple(sorted(table.get("environment", {}).items()))


def test_config_objects_are_immutable(platform):
    env = platform.env(next(iter(platform.environments)))
    with pytest.raises(ValidationError, match="frozen"):
        env.vpc_cidr = "10.0.0.0/16"


def test_fargate_cpu_memory_pair_rejected_with_valid_pairs_listed(raw):
    env = envs(raw)[0]
    raw["environments"][env]["service_defaults"].update(cpu=256, memory=4096)
    raw["environments"][env]["services"] = {}
    assert cited(
        f"environment {env}, service {names(raw)[0]}: cpu/memory 256/4096 is not a Fargate "
        "combination; with cpu 256 memory must be one of 512, 1024, 2048",
        "fargate-size",
    ) in problems_of(raw)


def test_unknown_fargate_cpu_rejected(raw):
    env, svc = envs(raw)[-1], names(raw)[-1]
    raw["environments"][env].setdefault("services", {}).setdefault(svc, {})["cpu"] = 300
    assert any(
        p.startswith(f"environment {env}, service {svc}: cpu 300 is not a Fargate size")
        for p in problems_of(raw)
    )


def test_duplicate_port_rejected(raw):
    first, second = raw["services"][:2]
    second["port"] = first["port"]
    assert (
        f"service {second['name']}: port {first['port']} already used by service {first['name']}"
        in problems_of(raw)
    )


def test_duplicate_service_name_rejected(raw):
    raw["services"][1]["name"] = raw["services"][0]["name"]
    assert f"service {names(raw)[0]}: duplicate service name (also entry #1)" in problems_of(raw)


def test_invalid_cidr_rejected(raw):
    env = envs(raw)[0]
    raw["environments"][env]["vpc_cidr"] = "10.10.0.0/33"
    assert any(
        p.startswith(f"environment {env}: vpc_cidr '10.10.0.0/33' is not a valid CIDR")
        for p in problems_of(raw)
    )


def test_overlapping_environment_cidrs_rejected(raw):
    a, b = envs(raw)[:2]
    for key in ("vpc_cidr", "public_subnets", "private_subnets"):
        raw["environments"][b][key] = raw["environments"][a][key]
    cidr = raw["environments"][a]["vpc_cidr"]
    first, second = sorted([a, b])
    assert (
        f"environment {second}: vpc_cidr {cidr} overlaps environment {first}'s {cidr}"
        in problems_of(raw)
    )


def test_subnet_outside_vpc_rejected(raw):
    env = envs(raw)[0]
    table = raw["environments"][env]
    table["private_subnets"][1] = "192.168.0.0/20"
    assert cited(
        f"environment {env}: private_subnets entry 192.168.0.0/20 does not fit in vpc_cidr "
        f"{table['vpc_cidr']}",
        "subnet-cidr",
    ) in problems_of(raw)


def test_overlapping_subnets_rejected(raw):
    env = envs(raw)[0]
    table = raw["environments"][env]
    table["private_subnets"][0] = table["public_subnets"][0]
    assert any(
        f"private_subnets entry {table['public_subnets'][0]} overlaps" in p
        or f"overlaps private_subnets entry {table['public_subnets'][0]}" in p
        for p in problems_of(raw)
    )


def test_fewer_than_two_availability_zones_rejected(raw):
    env = envs(raw)[0]
    table = raw["environments"][env]
    table.update(
        public_subnets=table["public_subnets"][:1],
        private_subnets=table["private_subnets"][:1],
        nat_gateways=1,
    )
    assert cited(
        f"environment {env}: at least 2 availability zones are needed (an ALB requires two); got 1",
        "alb-subnets",
    ) in problems_of(raw)


def test_more_nat_gateways_than_zones_rejected(raw):
    env = envs(raw)[0]
    zones = len(raw["environments"][env]["public_subnets"])
    raw["environments"][env]["nat_gateways"] = zones + 1
    assert (
        f"environment {env}: nat_gateways {zones + 1} must be between 1 and the number of "
        f"availability zones ({zones})" in problems_of(raw)
    )


def test_log_retention_not_accepted_by_cloudwatch_rejected(raw):
    env = envs(raw)[-1]
    raw["environments"][env]["log_retention_days"] = 42
    assert any(
        p.startswith(f"environment {env}: log_retention_days 42 is not accepted by CloudWatch Logs")
        and "365" in p
        and p.endswith(limits.cite("log-retention"))
        for p in problems_of(raw)
    )


@pytest.mark.parametrize(
    ("kind", "limit", "mutate"),
    [
        # <project>-<env>-<discovery_name> must fit a 32-character target group name.
        ("target group", 32, lambda raw: raw["services"][0].update(discovery_name="s" * 25)),
        # the ALB name grows with the project's name.
        ("load balancer", 32, lambda raw: raw.update(project="p" * 21)),
        # <prefix>-<discovery_name>-execution must fit 64 characters.
        ("IAM role", 64, lambda raw: raw["services"][0].update(discovery_name="s" * 50)),
    ],
)
def test_physical_name_over_aws_limit_rejected(raw, kind, limit, mutate):
    mutate(raw)
    lid = "name-" + kind.replace(" ", "-").lower()
    assert any(
        f"{kind} name" in p and f"AWS allows {limit}" in p and p.endswith(limits.cite(lid))
        for p in problems_of(raw)
    )


def test_nested_stack_name_over_128_rejected(raw):
    i = independent(raw)
    old, raw["services"][i]["name"] = raw["services"][i]["name"], "a" + "b" * 110
    for table in raw["environments"].values():
        table.get("services", {}).pop(old, None)
    assert any("stack name" in p and "AWS allows 128" in p for p in problems_of(raw))


def test_several_problems_reported_at_once(raw):
    first, last = envs(raw)[0], envs(raw)[-1]
    raw["environments"][first]["log_retention_days"] = 42
    raw["environments"][first]["service_defaults"].update(cpu=256, memory=4096)
    raw["environments"][last]["vpc_cidr"] = "not-a-cidr"
    raw["services"][-1]["port"] = raw["services"][0]["port"]
    joined = "\n".join(problems_of(raw))
    port = raw["services"][0]["port"]
    for needle in ("log_retention_days 42", "cpu/memory 256/4096", "'not-a-cidr'", f"port {port}"):
        assert needle in joined


def test_unknown_field_named_with_known_fields(raw):
    env = envs(raw)[0]
    raw["environments"][env]["nat_gateway"] = 1
    assert any(
        p.startswith(f"environment {env}: unknown field 'nat_gateway' (known:")
        for p in problems_of(raw)
    )


def test_wrong_type_named(raw):
    raw["services"][0]["port"] = "8000"
    assert f"service {names(raw)[0]}: port must be an integer, got '8000'" in problems_of(raw)


def test_override_for_unknown_service_rejected(raw):
    env = envs(raw)[0]
    raw["environments"][env].setdefault("services", {})["no-such-service"] = {"cpu": 512}
    assert any(
        p.startswith(f"environment {env}: services.no-such-service is not a service in the")
        for p in problems_of(raw)
    )


def test_desired_count_outside_scaling_bounds_rejected(raw):
    env = envs(raw)[0]
    defaults = raw["environments"][env]["service_defaults"]
    raw["environments"][env]["services"] = {}
    defaults["desired_count"] = defaults["max_count"] + 1
    assert any(
        f"desired_count {defaults['max_count'] + 1} must lie between min_count "
        f"{defaults['min_count']} and max_count {defaults['max_count']}" in p
        for p in problems_of(raw)
    )


def test_unknown_environment_lists_known_ones(platform):
    known = ", ".join(platform.environments)
    with pytest.raises(config.ConfigError, match=f"unknown environment 'qa'; known: {known}"):
        platform.env("qa")


def test_missing_file_and_bad_toml_are_config_errors(tmp_path):
    with pytest.raises(config.ConfigError, match="configuration file not found"):
        config.load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("project = \n")
    with pytest.raises(config.ConfigError, match="not valid TOML"):
        config.load(bad)


# -- one bad field does not cascade ------------------------------------------------------------


def test_service_with_a_bad_field_is_still_a_known_service(raw):
    """Overrides and depends_on that name it say nothing: only the bad field is reported."""
    dependency = next(d for s in raw["services"] for d in s.get("depends_on", []))
    entry = next(s for s in raw["services"] if s["name"] == dependency)
    entry["port"] = "eighty"
    env = envs(raw)[0]
    raw["environments"][env].setdefault("services", {})[dependency] = {"cpu": "big"}
    assert problems_of(raw) == [
        f"service {dependency}: port must be an integer, got 'eighty'",
        f"environment {env}, service {dependency}: cpu must be an integer, got 'big'",
    ]


def test_a_bad_default_is_reported_once_for_the_defaults(raw):
    env = envs(raw)[0]
    raw["environments"][env]["service_defaults"]["cpu"] = "x"
    raw["environments"][env]["service_defaults"]["cpus"] = 1
    raw["environments"][env]["services"] = {}
    problems = problems_of(raw)
    assert problems[0] == f"environment {env}: service_defaults: cpu must be an integer, got 'x'"
    assert problems[1].startswith(f"environment {env}: service_defaults: unknown field 'cpus'")
    assert len(problems) == 2


@pytest.mark.parametrize("action", ["iam:PassRole", "iam:passrole", "iam:Pass*", "iam:*Role"])
def test_task_role_may_not_pass_roles(raw, action):
    """A task role that may pass roles would put an unconditioned iam:PassRole in the
    environment's boundary: the service's tasks could hand a platform role to any service."""
    s = raw["services"][0]
    s["task_role_actions"] = ["s3:GetObject", action]
    s["task_role_resources"] = ["arn:aws:s3:::reports/*"]
    found = [p for p in problems_of(raw) if "task_role_actions" in p]
    assert found == [
        f"service {s['name']}: task_role_actions entry {action!r} would let the service's tasks "
        "pass roles to other AWS services (iam:PassRole); the boundary and the service role "
        "allow passing a role only to the services the platform uses: remove it"
    ]


def test_task_role_actions_near_pass_role_are_accepted(raw):
    s = raw["services"][0]
    s["task_role_actions"] = ["iam:GetRole", "iam:PassRoles", "s3:Pass*"]
    s["task_role_resources"] = ["arn:aws:iam::123456789012:role/x"]
    assert config.from_dict(raw).services[0].task_role_actions == tuple(s["task_role_actions"])
