"""What AWS would refuse is refused when the configuration loads, naming the limit and its source.

One explicit test per kind of bad input the issue lists (region typo, empty project, an override
written as an array of tables, service names the project reserves, ECR names and registry URIs,
secret-looking literals, empty namespace, health check timings, long path patterns), and one
example per `config` row of the limits table that makes exactly that row's citation appear: a
row the configuration claims to check but no test triggers fails `test_every_config_limit_...`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cfn import config, docs, limits, naming, validation
from tests import scale
from tests.conftest import PROJECT_ROOT, problems_of

Raw = dict[str, Any]


def first_env(raw: Raw) -> tuple[str, Raw]:
    name = next(iter(raw["environments"]))
    return name, raw["environments"][name]


def independent(raw: Raw) -> Raw:
    """A service entry no other service depends on: renaming it breaks nothing else."""
    needed = {d for s in raw["services"] for d in s.get("depends_on", [])}
    return next(s for s in raw["services"] if s["name"] not in needed)


def defaults(raw: Raw, **values: Any) -> None:
    """Set sizing values for every service of the first environment (overrides cleared)."""
    _, env = first_env(raw)
    env["service_defaults"].update(values)
    env["services"] = {}


def _bucket(raw: Raw) -> None:
    raw["project"] = "p" * 21
    for env in raw["environments"].values():
        env["region"] = "ap-southeast-2"


def _certificate(raw: Raw) -> None:
    _, env = first_env(raw)
    other = "us-east-1" if env["region"] != "us-east-1" else "eu-west-1"
    uuid = "12345678-1234-1234-1234-123456789012"
    env["certificate_arn"] = f"arn:aws:acm:{other}:123456789012:certificate/{uuid}"


# One mutation per `config` row of cfn.limits: each must make that row's citation appear.
EXAMPLES: dict[str, Callable[[Raw], None]] = {
    "region": lambda raw: first_env(raw)[1].update(region="eu-wset-1"),
    "vpc-cidr": lambda raw: first_env(raw)[1].update(vpc_cidr="10.0.0.0/8"),
    "subnet-cidr": lambda raw: first_env(raw)[1]["public_subnets"].__setitem__(0, "10.99.0.0/24"),
    "alb-subnets": lambda raw: first_env(raw)[1].update(
        public_subnets=first_env(raw)[1]["public_subnets"][:1],
        private_subnets=first_env(raw)[1]["private_subnets"][:1],
    ),
    "certificate": _certificate,
    "load-balancer-name": lambda raw: raw.update(project="internal"),
    "alb-rules": lambda raw: raw.update(scale.with_services(raw, 101)),
    "alb-target-groups": lambda raw: raw.update(scale.with_services(raw, 101)),
    "rule-condition-values": lambda raw: raw["services"][0].update(
        path_patterns=[f"/p{i}" for i in range(6)]
    ),
    "rule-wildcards": lambda raw: raw["services"][0].update(path_patterns=["/a/*/*/*", "/b/*/*/*"]),
    "path-pattern-length": lambda raw: raw["services"][0].update(path_patterns=["/" + "a" * 128]),
    "listener-priority": lambda raw: raw["services"][0].update(listener_priority=50001),
    "health-check-interval": lambda raw: defaults(raw, health_check_interval_seconds=301),
    "health-check-timeout": lambda raw: defaults(raw, health_check_timeout_seconds=121),
    "health-check-timing": lambda raw: defaults(
        raw, health_check_interval_seconds=10, health_check_timeout_seconds=10
    ),
    "health-check-thresholds": lambda raw: defaults(raw, unhealthy_threshold=11),
    "deregistration-delay": lambda raw: defaults(raw, deregistration_delay_seconds=3601),
    "fargate-size": lambda raw: defaults(raw, cpu=512, memory=512),
    "ecs-tasks": lambda raw: defaults(raw, max_count=5001),
    "capacity-weight": lambda raw: first_env(raw)[1].update(fargate_spot_weight=1001),
    "ecr-repository": lambda raw: raw["services"][0].update(repository="Upper/Case"),
    "secret-literal": lambda raw: raw["services"][0].update(environment={"DB_PASSWORD": "hunter2"}),
    "log-retention": lambda raw: first_env(raw)[1].update(log_retention_days=42),
    "cloudmap-namespace": lambda raw: raw.update(discovery_namespace="x" * 254),
    "cloudmap-service": lambda raw: raw["services"][0].update(discovery_name="Not_A_Label"),
    "iam-action": lambda raw: raw["services"][0].update(
        task_role_actions=["s3 GetObject"], task_role_resources=["arn:aws:s3:::b/*"]
    ),
    "iam-role-policy": lambda raw: raw["services"][0].update(secrets=[f"S{i}" for i in range(120)]),
    "name-stack": lambda raw: (
        independent(raw).update(name="a" + "b" * 110)
        or [e.get("services", {}).clear() for e in raw["environments"].values()]
    ),
    "name-load-balancer": lambda raw: raw.update(project="p" * 21),
    "name-target-group": lambda raw: raw["services"][0].update(discovery_name="d" * 30),
    "name-iam-role": lambda raw: raw["services"][0].update(discovery_name="d" * 50),
    "name-s3-bucket": _bucket,
    "name-secret": lambda raw: raw["services"][0].update(secrets=["S" * 500]),
}


def test_every_config_limit_has_an_example():
    assert set(EXAMPLES) == {row.id for row in limits.config_checked()}


@pytest.mark.parametrize("limit_id", sorted(EXAMPLES))
def test_each_config_limit_is_refused_with_its_source(raw, limit_id):
    EXAMPLES[limit_id](raw)
    problems = problems_of(raw)
    citation = limits.cite(limit_id)
    assert any(p.endswith(citation) for p in problems), problems
    assert limits.LIMITS[limit_id].source.startswith("https://docs.aws.amazon.com/")


def test_readme_checks_table_matches_the_limits_table():
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert docs.checks_table() in readme, "run `python -m cfn.docs` and paste the checks table"
    assert readme.count(docs.CHECKS_BEGIN) == 1


# -- one test per category of issue 11 -------------------------------------------------------------


def test_region_typo_suggests_the_closest_region(raw):
    name, env = first_env(raw)
    env["region"] = "eu-wset-1"
    assert (
        f"environment {name}: region 'eu-wset-1' is not an AWS region; did you mean 'eu-west-1'? "
        + limits.cite("region")
        in problems_of(raw)
    )


def test_every_region_of_the_project_is_one_botocore_knows(raw):
    for env in raw["environments"].values():
        assert env["region"] in validation.known_regions()


def test_empty_project_is_a_clear_message(raw):
    raw["project"] = ""
    assert problems_of(raw) == [
        "top level: project '' must be 2-21 lowercase letters or digits, starting with a letter"
    ]


def test_override_as_array_of_tables_is_explained(raw):
    name, env = first_env(raw)
    env["services"] = [{"cpu": 512}]
    assert problems_of(raw) == [
        f"environment {name}: services must be a table per service "
        f"([environments.{name}.services.<service>]), not an array of tables "
        f"([[environments.{name}.services]]), got [{{'cpu': 512}}]"
    ]


@pytest.mark.parametrize(
    "reserved",
    sorted(
        [naming.ROOT_TEMPLATE, naming.BOOTSTRAP_TEMPLATE]
        + [naming.template_file(i) for i in (naming.NETWORK, naming.EDGE, naming.CLUSTER)]
    ),
)
def test_service_named_like_a_project_template_is_refused(raw, reserved):
    entry = independent(raw)
    for env in raw["environments"].values():
        env.get("services", {}).pop(entry["name"], None)
    entry["name"] = Path(reserved).stem
    problems = problems_of(raw)
    assert len(problems) == 1
    assert problems[0].startswith(f"service {entry['name']}: name collides with the ")
    assert f"({reserved})" in problems[0] or f"{reserved} stack" in problems[0]


def test_ecr_repository_in_upper_case_is_refused(raw):
    raw["services"][0]["repository"] = "Sportmonks"
    assert (
        f"service {raw['services'][0]['name']}: repository 'Sportmonks' is not an ECR repository "
        f"name (ECR names are lowercase) {limits.cite('ecr-repository')}" in problems_of(raw)
    )


def test_registry_uri_as_repository_is_explained(raw):
    raw["services"][0]["repository"] = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/foo:1.2"
    (problem,) = problems_of(raw)
    assert "is a registry URI; give the repository name only ('foo')" in problem


@pytest.mark.parametrize(
    ("name", "value", "kind"),
    [
        ("STRIPE_API_KEY", "sk_live_" + "a1" * 12, "a Stripe key"),
        ("INNOCENT", "AKIA" + "ABCDEFGHIJKLMNOP", "an AWS access key id"),
        ("CI", "ghp_" + "x" * 36, "a GitHub token"),
        ("CERT", "-----BEGIN RSA PRIVATE KEY-----\nabc", "a private key"),
        ("DB_PASSWORD", "hunter2", "a secret (by its name)"),
    ],
)
def test_secret_looking_literal_is_refused_without_printing_it(raw, name, value, kind):
    raw["services"][0]["environment"] = {name: value}
    (problem,) = problems_of(raw)
    assert f"environment.{name} looks like {kind}" in problem
    assert f'secrets = ["{name}"]' in problem
    assert value not in problem


def test_a_url_in_a_secret_named_variable_is_not_a_secret(raw):
    # A URL says where the secret is, not what it is; one with a password in it is refused.
    raw["services"][0]["environment"] = {"TOKEN_URL": "https://auth.example.com/token"}
    assert config.from_dict(raw).services[0].environment == (
        ("TOKEN_URL", "https://auth.example.com/token"),
    )
    raw["services"][0]["environment"] = {"TOKEN_URL": "https://me:pw@auth.example.com/token"}
    (problem,) = problems_of(raw)
    assert "environment.TOKEN_URL looks like a secret" in problem


def test_empty_cloud_map_namespace_is_refused(raw):
    raw["discovery_namespace"] = ""
    assert problems_of(raw) == [
        "top level: discovery_namespace '' must be a DNS name (dot-separated DNS labels) "
        + limits.cite("cloudmap-namespace")
    ]


def test_health_check_interval_must_exceed_timeout(raw):
    name = first_env(raw)[0]
    defaults(raw, health_check_interval_seconds=5, health_check_timeout_seconds=5)
    first = raw["services"][0]["name"]
    assert (
        f"environment {name}, service {first}: health_check_interval_seconds 5 must be greater "
        f"than health_check_timeout_seconds 5 {limits.cite('health-check-timing')}"
        in problems_of(raw)
    )


def test_path_pattern_over_128_characters_is_refused(raw):
    raw["services"][0]["path_patterns"] = ["/" + "p" * 128]
    (problem,) = problems_of(raw)
    assert "path_patterns[0]" in problem
    assert "has 129 characters; at most 128 are allowed" in problem
