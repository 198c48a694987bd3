"""The configuration's rules that span fields or need knowledge beyond one value.

Each function takes already-typed pieces (a `Service`, a `ServiceSizing`, an environment's
settings, the whole `Platform`) and returns one message per problem, each beginning with where
it is ("environment prod, service orchestrator-service") and, for AWS's limits, ending with the
limit and its documentation (`cfn.limits`). `cfn.config` calls them before it builds anything, so
everything here is known before a template renders. This module imports `config` and `naming`;
neither imports it back at run time.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cfn import naming, policies
from cfn.awsregions import known_regions
from cfn.limits import FARGATE_SIZES, cite
from cfn.validation_network import network_problems
from cfn.validation_safety import environment_problems, service_problems

if TYPE_CHECKING:
    from cfn.config import EnvironmentSettings, Platform, Service, ServiceSizing

RULES_PER_LOAD_BALANCER = 100
TARGET_GROUPS_PER_LOAD_BALANCER = 100
WILDCARDS_PER_RULE = 5
ROLE_POLICY_CHARACTERS = 10_240

_ECR_NAME = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
_ECR_URI = re.compile(
    r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/(?P<repo>[^:@]+)(?:[:@].*)?"
)
_ACM_ARN = re.compile(r"arn:aws[a-z-]*:acm:(?P<region>[a-z0-9-]+):\d{12}:certificate/[0-9a-f-]{36}")
# Names that say "secret", as the E9001 lint rule reads them.
_SECRET_NAME = re.compile(
    r"(^|_)(API_?KEY|KEY|SECRET|TOKEN|PASSWORD|PASSWD|PWD|CREDENTIALS?|PRIVATE|AUTH)(_|$)"
)
_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s@]*")
# Values that are a credential whatever the variable is called.
_KEY_FORMATS = {
    "a Stripe key": re.compile(r"[sr]k_(live|test)_[A-Za-z0-9]{8,}"),
    "an AWS access key id": re.compile(r"(AKIA|ASIA)[0-9A-Z]{16}"),
    "a GitHub token": re.compile(r"(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"),
    "a Slack token": re.compile(r"xox[abprs]-[A-Za-z0-9-]{10,}"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}


def is_plain(name: Any) -> bool:
    """Whether a name can stand in a message as it is (short, printable text)."""
    return isinstance(name, str) and 0 < len(name) <= 128 and name.isprintable()


def short(text: str, width: int = 64) -> str:
    """A user's string cut to fit in a message (a configuration can hold a novel)."""
    return text if len(text) <= width else text[: width - 1] + "…"


def service_names(entries: Sequence[Any]) -> list[str]:
    """The names the catalogue declares, valid entries or not: what overrides may refer to."""
    return [t["name"] for t in entries if isinstance(t, Mapping) and isinstance(t.get("name"), str)]


# -- one service --------------------------------------------------------------------------------


def check_service(where: str, s: Service) -> list[str]:
    """ECR name, secret-looking literals, wildcards per rule, task role actions of one service."""
    problems = _repository(where, s.repository)
    for key, value in s.environment:
        kind = _secret_kind(key, value)
        if kind:
            problems.append(
                f"{where}: environment.{key} looks like {kind} in plain text, readable by anyone "
                f"who can read the template or the task definition; list it in "
                f'secrets = ["{key}"] and store the value in Secrets Manager '
                + cite("secret-literal")
            )
    plain = {k for k, _ in s.environment}
    problems += [
        f"{where}: {v} is both a plain environment variable and a secret"
        for v in s.secrets
        if v in plain
    ]
    wildcards = sum(p.count("*") + p.count("?") for p in s.path_patterns)
    if wildcards > WILDCARDS_PER_RULE:
        problems.append(
            f"{where}: path_patterns use {wildcards} wildcards ('*' and '?'); one listener rule "
            f"allows {WILDCARDS_PER_RULE} {cite('rule-wildcards')}"
        )
    for a in s.task_role_actions:
        if a.endswith(":*"):
            problems.append(f"{where}: task_role_actions entry {a!r} grants a whole service")
        elif _passes_roles(a):
            problems.append(
                f"{where}: task_role_actions entry {a!r} would let the service's tasks pass "
                "roles to other AWS services (iam:PassRole); the boundary and the service "
                "role allow passing a role only to the services the platform uses: remove it"
            )
    if s.task_role_actions and not s.task_role_resources:
        problems.append(f"{where}: task_role_actions needs task_role_resources (ARNs)")
    return problems + service_problems(where, s)


def _passes_roles(action: str) -> bool:
    """`action` (IAM's wildcards `*` and `?`, case-insensitive) matches iam:PassRole."""
    pattern = re.escape(action.lower()).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(pattern, "iam:passrole") is not None


def _repository(where: str, repo: str) -> list[str]:
    uri = _ECR_URI.fullmatch(repo)
    if uri:
        return [
            f"{where}: repository {short(repo, 100)!r} is a registry URI; give the repository "
            f"name only ({short(uri['repo'])!r}): the template adds the account's registry "
            "and the image tag " + cite("ecr-repository")
        ]
    if not 2 <= len(repo) <= 256 or not _ECR_NAME.fullmatch(repo):
        lower = " (ECR names are lowercase)" if repo != repo.lower() else ""
        return [
            f"{where}: repository {short(repo)!r} is not an ECR repository name{lower} "
            + cite("ecr-repository")
        ]
    return []


def _secret_kind(key: str, value: str) -> str | None:
    for kind, pattern in _KEY_FORMATS.items():
        if pattern.search(value):
            return kind
    if _SECRET_NAME.search(key) and value and not (_URL.fullmatch(value) and "@" not in value):
        return "a secret (by its name)"
    return None


# -- the catalogue --------------------------------------------------------------------------------


def check_catalogue(services: Sequence[Service], entries: Sequence[Any]) -> list[str]:
    """Names, ports, labels, priorities and logical ids unique; depends_on names services."""
    problems = []
    names = service_names(entries)
    for i, name in enumerate(names):
        if name in names[:i]:
            problems.append(
                f"service {short(name)}: duplicate service name (also entry "
                f"#{names.index(name) + 1})"
            )
    for attr in ("port", "discovery_name", "listener_priority"):
        seen: dict[Any, str] = {}
        for s in services:
            value = getattr(s, attr)
            if value in seen and seen[value] != s.name:
                shown = value if isinstance(value, int) else repr(value)
                problems.append(
                    f"service {s.name}: {attr} {shown} already used by service {seen[value]}"
                )
            seen.setdefault(value, s.name)
    problems += _root_ids(services)
    for s in services:
        for d in s.depends_on:
            if d == s.name:
                problems.append(f"service {s.name}: depends_on names itself")
            elif d not in names:
                problems.append(
                    f"service {s.name}: depends_on {short(d)!r} is not a service "
                    f"(known: {', '.join(sorted(map(short, names)))})"
                )
    # Every service adds one rule to the listener and one target group to the load balancer.
    for limit, what, lid in (
        (RULES_PER_LOAD_BALANCER, "listener rules", "alb-rules"),
        (TARGET_GROUPS_PER_LOAD_BALANCER, "target groups", "alb-target-groups"),
    ):
        if len(services) > limit:
            problems.append(
                f"top level: {len(services)} services need {len(services)} {what} on one load "
                f"balancer; AWS allows {limit} {cite(lid)}"
            )
    return problems


def reserved_names() -> dict[str, str]:
    """The root template's own logical ids and the template files the project writes itself."""
    own = {
        i: f"the {naming.template_file(i)} stack"
        for i in (naming.NETWORK, naming.EDGE, naming.CLUSTER)
    }
    for p in (naming.ARTIFACTS_BUCKET_PARAMETER, naming.ARTIFACTS_PREFIX_PARAMETER):
        own[p] = f"the root template's {p} parameter"
    for f in (naming.ROOT_TEMPLATE, naming.BOOTSTRAP_TEMPLATE):
        own[f] = f"the project's {f} template"
    return own


def _root_ids(services: Sequence[Service]) -> list[str]:
    """A service's nested stack, template file and image-tag parameter must not collide."""
    owners = reserved_names()
    problems = []
    for s in services:
        stack_id = naming.service_stack_id(s)
        for key in (stack_id, naming.template_file(stack_id), naming.image_tag_parameter(s)):
            owner = owners.get(key)
            if owner and owner != f"service {s.name}":
                problems.append(
                    f"service {s.name}: name collides with {owner} ({key}); choose another "
                    f"service name (reserved: {', '.join(_reserved_service_names())})"
                )
                break
            owners[key] = f"service {s.name}"
    return problems


def _reserved_service_names() -> list[str]:
    files = [k if k.endswith(".json") else naming.template_file(k) for k in reserved_names()]
    return sorted({f.removesuffix(".json") for f in files})


# -- one environment's sizing and settings --------------------------------------------------------


def check_sizing(where: str, z: ServiceSizing) -> list[str]:
    """Fargate's CPU/memory pairs, scaling bounds, health check interval against timeout."""
    problems = []
    if z.cpu not in FARGATE_SIZES:
        problems.append(
            f"{where}: cpu {z.cpu} is not a Fargate size; use one of "
            f"{', '.join(map(str, FARGATE_SIZES))} {cite('fargate-size')}"
        )
    elif z.memory not in FARGATE_SIZES[z.cpu]:
        allowed = ", ".join(map(str, FARGATE_SIZES[z.cpu]))
        problems.append(
            f"{where}: cpu/memory {z.cpu}/{z.memory} is not a Fargate combination; with cpu "
            f"{z.cpu} memory must be one of {allowed} {cite('fargate-size')}"
        )
    if z.min_count > z.max_count:
        problems.append(f"{where}: min_count {z.min_count} is greater than max_count {z.max_count}")
    if z.autoscaling and not z.min_count <= z.desired_count <= z.max_count:
        problems.append(
            f"{where}: desired_count {z.desired_count} must lie between min_count "
            f"{z.min_count} and max_count {z.max_count}"
        )
    if z.health_check_interval_seconds <= z.health_check_timeout_seconds:
        problems.append(
            f"{where}: health_check_interval_seconds {z.health_check_interval_seconds} must be "
            f"greater than health_check_timeout_seconds {z.health_check_timeout_seconds} "
            + cite("health-check-timing")
        )
    return problems


def check_environment(where: str, e: EnvironmentSettings) -> list[str]:
    """The region botocore knows, the certificate (its region too), the network."""
    problems = []
    if e.region not in known_regions():
        close = difflib.get_close_matches(e.region, sorted(known_regions()), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else " (or newer than this botocore)"
        problems.append(
            f"{where}: region {short(e.region)!r} is not an AWS region{hint} {cite('region')}"
        )
    if e.certificate_arn:
        arn = _ACM_ARN.fullmatch(e.certificate_arn)
        if not arn:
            problems.append(
                f"{where}: certificate_arn {short(e.certificate_arn, 100)!r} is not an ACM "
                f"certificate ARN {cite('certificate')}"
            )
        elif arn["region"] != e.region:
            problems.append(
                f"{where}: certificate_arn is in {arn['region']}, the load balancer in {e.region}; "
                f"request or import the certificate in {e.region} {cite('certificate')}"
            )
    return problems + network_problems(where, e) + environment_problems(where, e)


# -- what is built from everything: physical names, IAM policies ---------------------------------


def check_platform(platform: Platform) -> list[str]:
    """Physical names and the roles' inline policies against AWS's limits, once prefixed."""
    return _names(platform) + _policy_sizes(platform)


def _names(platform: Platform) -> list[str]:
    """One message per physical name longer than AWS allows, once the project is prefixed."""
    problems = []
    for env in platform.environments.values():
        for kind, name, where in naming.physical_names(env):
            limit = naming.LIMITS[kind]
            if len(name) > limit:
                lid = "name-" + kind.replace(" ", "-").lower()
                problems.append(
                    f"{where}: {kind} name {name[:80]!r} is {len(name)} characters; AWS allows "
                    f"{limit} (shorten the project, environment or discovery_name) {cite(lid)}"
                )
        # ELB keeps the prefix for internal load balancers' DNS names.
        if naming.load_balancer(env).startswith("internal-"):
            problems.append(
                f"environment {env.name}: load balancer name {naming.load_balancer(env)!r} "
                f"begins with 'internal-'; rename the project {cite('load-balancer-name')}"
            )
    return problems


def _policy_sizes(platform: Platform) -> list[str]:
    """Each role's inline policy as IAM counts it: substituted, whitespace left out."""
    problems = []
    for env in platform.environments.values():
        for s in env.services:
            documents = {
                "execution role (its secrets)": policies.read_secrets(
                    [naming.secret(env, s, v) for v in s.secrets]
                ),
                "task role (task_role_actions)": policies.task_permissions(
                    s.task_role_actions, s.task_role_resources
                ),
            }
            for role, document in documents.items():
                size = _iam_characters(document, env.region)
                if size > ROLE_POLICY_CHARACTERS:
                    problems.append(
                        f"environment {env.name}, service {s.name}: the {role} policy is {size} "
                        f"characters; IAM allows {ROLE_POLICY_CHARACTERS} per role "
                        + cite("iam-role-policy")
                    )
    return problems


def _iam_characters(document: Any, region: str) -> int:
    """The policy's length once CloudFormation has substituted it (a 12-digit account id)."""
    from troposphere import encode_to_dict

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
                return node["Fn::Sub"]
            return {k: resolve(v) for k, v in node.items()}
        return [resolve(v) for v in node] if isinstance(node, list) else node

    text = json.dumps(resolve(encode_to_dict(document)), separators=(",", ":"))
    for name, value in (("Partition", "aws"), ("Region", region), ("AccountId", "1" * 12)):
        text = text.replace(f"${{AWS::{name}}}", value)
    return sum(1 for ch in text if not ch.isspace())
