"""The platform's configuration: environments and the service catalogue, as typed, immutable data.

`load()` reads `insightxi.toml` (beside this module, or a path given), checks every value and
returns a `Platform`. Every problem found is collected and raised together in one `ConfigError`,
each message naming the environment, the service and the field, and saying what would be valid.
Stack modules read these objects and never test an environment's name: differences between
environments are values here.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_PATH = Path(__file__).with_name("insightxi.toml")

# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
_DNS_LABEL = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")
_ENV_VAR = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_PROJECT = re.compile(r"^[a-z][a-z0-9]{1,20}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")
_PATH = re.compile(r"^/[A-Za-z0-9_\-./*?]*$")


class ConfigError(Exception):
    """The configuration is invalid; `problems` holds one message per problem."""

    def __init__(self, problems: list[str], source: Path | str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s){where}:\n{lines}")


@dataclass(frozen=True)
class Service:
    """One service of the catalogue: what it is, the same in every environment."""

    name: str
    discovery_name: str
    port: int
    repository: str
    health_check_path: str
    path_patterns: tuple[str, ...]
    listener_priority: int
    environment: tuple[tuple[str, str], ...] = ()
    secrets: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    # IAM actions the application itself needs (the task role); empty as in the seed.
    task_role_actions: tuple[str, ...] = ()
    task_role_resources: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceSizing:
    """How one service runs in one environment."""

    cpu: int
    memory: int
    desired_count: int
    min_count: int
    max_count: int
    cpu_target_percent: int
    autoscaling: bool = True
    health_check_grace_seconds: int = 60
    deregistration_delay_seconds: int = 30
    healthy_threshold: int = 2
    unhealthy_threshold: int = 3
    health_check_interval_seconds: int = 15
    scale_in_cooldown_seconds: int = 300
    scale_out_cooldown_seconds: int = 60


@dataclass(frozen=True)
class Environment:
    """One environment (dev, staging, prod): the network and how each service runs there."""

    name: str
    project: str
    region: str
    vpc_cidr: str
    public_subnets: tuple[str, ...]
    private_subnets: tuple[str, ...]
    nat_gateways: int
    log_retention_days: int
    protected: bool
    retain_stateful_resources: bool
    alb_deletion_protection: bool
    certificate_arn: str
    fargate_spot_weight: int
    alb_drop_invalid_headers: bool
    discovery_namespace: str
    services: tuple[Service, ...]
    sizing: Mapping[str, ServiceSizing] = field(hash=False, compare=False)

    @property
    def az_count(self) -> int:
        return len(self.public_subnets)

    def sizing_of(self, service: Service) -> ServiceSizing:
        return self.sizing[service.name]

    def service(self, name: str) -> Service:
        for s in self.services:
            if s.name == name:
                return s
        raise KeyError(name)


@dataclass(frozen=True)
class Platform:
    """The whole configuration: the project, its services and its environments."""

    project: str
    discovery_namespace: str
    services: tuple[Service, ...]
    environments: Mapping[str, Environment] = field(hash=False, compare=False)

    def env(self, name: str) -> Environment:
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(self.environments)
            raise ConfigError([f"unknown environment {name!r}; known: {known}"]) from None


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


class _Reader:
    """Pulls typed fields out of a TOML table, recording problems instead of raising."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def get(
        self,
        table: Mapping[str, Any],
        key: str,
        kind: type | tuple[type, ...],
        where: str,
        default: Any = ...,
    ) -> Any:
        if key not in table:
            if default is ...:
                self.problems.append(f"{where}: missing field {key!r}")
                return None
            return default
        value = table[key]
        # bool is an int in Python; a port of `true` is a mistake, not 1.
        if isinstance(value, bool) and kind is not bool:
            self.problems.append(f"{where}: {key} must be {_kind_name(kind)}, got {value!r}")
            return None
        if not isinstance(value, kind):
            self.problems.append(f"{where}: {key} must be {_kind_name(kind)}, got {value!r}")
            return None
        return value

    def unknown(self, table: Mapping[str, Any], known: set[str], where: str) -> None:
        for key in sorted(set(table) - known):
            self.problems.append(
                f"{where}: unknown field {key!r} (known: {', '.join(sorted(known))})"
            )


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {
        int: "an integer",
        str: "a string",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


_SERVICE_FIELDS = {
    "name",
    "discovery_name",
    "port",
    "repository",
    "health_check_path",
    "path_patterns",
    "listener_priority",
    "environment",
    "secrets",
    "depends_on",
    "task_role_actions",
    "task_role_resources",
}
_SIZING_FIELDS = {f.name for f in fields(ServiceSizing)}
# The TOML keys of an environment table: its dataclass fields, less those filled in from the
# top level, plus the per-service tables.
_ENV_FIELDS = {f.name for f in fields(Environment)} - {
    "name",
    "project",
    "discovery_namespace",
    "services",
    "sizing",
} | {"service_defaults", "services"}


def load(path: Path | str | None = None) -> Platform:
    """Read and validate the configuration; raise `ConfigError` listing every problem."""
    source = Path(path) if path else DEFAULT_CONFIG_PATH
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"configuration file not found: {source}"], source) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], source) from None
    return from_dict(raw, source)


def from_dict(raw: Mapping[str, Any], source: Path | str | None = None) -> Platform:
    """Build and validate a `Platform` from already-parsed data (a TOML document's dict)."""
    problems: list[str] = []
    r = _Reader(problems)
    r.unknown(raw, {"project", "discovery_namespace", "services", "environments"}, "top level")
    project = r.get(raw, "project", str, "top level") or ""
    if project and not _PROJECT.match(project):
        problems.append(
            f"top level: project {project!r} must be 2-21 lowercase letters or digits, "
            "starting with a letter"
        )
    namespace = r.get(raw, "discovery_namespace", str, "top level") or ""
    if namespace and not all(_DNS_LABEL.match(p) for p in namespace.split(".")):
        problems.append(f"top level: discovery_namespace {namespace!r} is not a DNS name")

    services = tuple(_services(r, raw.get("services", []), problems))
    environments: dict[str, Environment] = {}
    env_tables = r.get(raw, "environments", dict, "top level") or {}
    if not env_tables:
        problems.append("top level: no [environments.<name>] table")
    for env_name, table in env_tables.items():
        env = _environment(r, env_name, table, project, namespace, services, problems)
        if env is not None:
            environments[env_name] = env
    _check_cidrs_do_not_overlap(environments, problems)

    if problems:
        raise ConfigError(problems, source)
    platform = Platform(project, namespace, services, environments)
    # Names are checked once everything else is valid: they are built from those values.
    from cfn import naming

    problems.extend(naming.check_lengths(platform))
    if problems:
        raise ConfigError(problems, source)
    return platform


def _services(r: _Reader, tables: Any, problems: list[str]) -> list[Service]:
    if not isinstance(tables, list) or not tables:
        problems.append("top level: no [[services]] entry")
        return []
    out: list[Service] = []
    seen_names: dict[str, int] = {}
    seen_ports: dict[int, str] = {}
    seen_labels: dict[str, str] = {}
    seen_priorities: dict[int, str] = {}
    for i, t in enumerate(tables):
        name = t.get("name") if isinstance(t.get("name"), str) else f"#{i + 1}"
        where = f"service {name}"
        r.unknown(t, _SERVICE_FIELDS, where)
        n = len(problems)
        sname = r.get(t, "name", str, where)
        label = r.get(t, "discovery_name", str, where)
        port = r.get(t, "port", int, where)
        repo = r.get(t, "repository", str, where)
        hc = r.get(t, "health_check_path", str, where)
        paths = r.get(t, "path_patterns", list, where)
        prio = r.get(t, "listener_priority", int, where)
        env = r.get(t, "environment", dict, where, default={})
        secrets = r.get(t, "secrets", list, where, default=[])
        deps = r.get(t, "depends_on", list, where, default=[])
        actions = r.get(t, "task_role_actions", list, where, default=[])
        resources = r.get(t, "task_role_resources", list, where, default=[])
        if sname is not None:
            if not _SERVICE_NAME.match(sname):
                problems.append(
                    f"{where}: name must be lowercase letters, digits and hyphens, "
                    "starting with a letter"
                )
            if sname in seen_names:
                problems.append(
                    f"{where}: duplicate service name (also entry #{seen_names[sname]})"
                )
            seen_names.setdefault(sname, i + 1)
        if label is not None:
            if not _DNS_LABEL.match(label):
                problems.append(f"{where}: discovery_name {label!r} is not a DNS label")
            if label in seen_labels:
                problems.append(
                    f"{where}: discovery_name {label!r} already used by service "
                    f"{seen_labels[label]}"
                )
            seen_labels.setdefault(label, name)
        if port is not None:
            if not 1 <= port <= 65535:
                problems.append(f"{where}: port {port} must be between 1 and 65535")
            if port in seen_ports:
                problems.append(f"{where}: port {port} already used by service {seen_ports[port]}")
            seen_ports.setdefault(port, name)
        if prio is not None:
            if not 1 <= prio <= 50000:
                problems.append(f"{where}: listener_priority {prio} must be between 1 and 50000")
            if prio in seen_priorities:
                problems.append(
                    f"{where}: listener_priority {prio} already used by service "
                    f"{seen_priorities[prio]}"
                )
            seen_priorities.setdefault(prio, name)
        if hc is not None and not _PATH.match(hc):
            problems.append(f"{where}: health_check_path {hc!r} must start with '/'")
        if paths is not None:
            if not paths or not 1 <= len(paths) <= 5:
                problems.append(f"{where}: path_patterns needs 1 to 5 patterns (an ALB limit)")
            for p in paths:
                if not isinstance(p, str) or not _PATH.match(p):
                    problems.append(f"{where}: path pattern {p!r} must be a path starting with '/'")
        for key, value in (env or {}).items():
            if not _ENV_VAR.match(key):
                problems.append(f"{where}: environment variable name {key!r} is not UPPER_CASE")
            if not isinstance(value, str):
                problems.append(f"{where}: environment.{key} must be a string, got {value!r}")
        for s in secrets or []:
            if not isinstance(s, str) or not _ENV_VAR.match(s):
                problems.append(f"{where}: secret name {s!r} must be an UPPER_CASE variable name")
            elif s in (env or {}):
                problems.append(f"{where}: {s} is both a plain environment variable and a secret")
        for a in actions or []:
            if not isinstance(a, str) or not re.match(r"^[a-z0-9-]+:[A-Za-z0-9*]+$", a):
                problems.append(f"{where}: task_role_actions entry {a!r} is not service:Action")
            elif a == "*" or a.endswith(":*"):
                problems.append(f"{where}: task_role_actions entry {a!r} grants a whole service")
        if actions and not resources:
            problems.append(f"{where}: task_role_actions needs task_role_resources (ARNs)")
        if len(problems) > n:
            continue
        out.append(
            Service(
                name=sname,
                discovery_name=label,
                port=port,
                repository=repo,
                health_check_path=hc,
                path_patterns=tuple(paths),
                listener_priority=prio,
                environment=tuple(sorted(env.items())),
                secrets=tuple(secrets),
                depends_on=tuple(deps),
                task_role_actions=tuple(actions),
                task_role_resources=tuple(resources),
            )
        )
    known = {s.name for s in out}
    for s in out:
        for d in s.depends_on:
            if d not in known:
                problems.append(
                    f"service {s.name}: depends_on {d!r} is not a service "
                    f"(known: {', '.join(sorted(known))})"
                )
            elif d == s.name:
                problems.append(f"service {s.name}: depends_on names itself")
    return out


def _environment(
    r: _Reader,
    name: str,
    t: Any,
    project: str,
    namespace: str,
    services: tuple[Service, ...],
    problems: list[str],
) -> Environment | None:
    where = f"environment {name}"
    if not _ENV_NAME.match(name):
        problems.append(f"{where}: name must be 1-16 lowercase letters or digits")
    if not isinstance(t, dict):
        problems.append(f"{where}: must be a table")
        return None
    r.unknown(t, _ENV_FIELDS, where)
    n = len(problems)
    region = r.get(t, "region", str, where)
    if region is not None and not _REGION.match(region):
        problems.append(f"{where}: region {region!r} is not an AWS region name (e.g. eu-west-1)")
    vpc_cidr = r.get(t, "vpc_cidr", str, where)
    public = r.get(t, "public_subnets", list, where)
    private = r.get(t, "private_subnets", list, where)
    nat = r.get(t, "nat_gateways", int, where)
    retention = r.get(t, "log_retention_days", int, where)
    protected = r.get(t, "protected", bool, where)
    retain = r.get(t, "retain_stateful_resources", bool, where)
    alb_protect = r.get(t, "alb_deletion_protection", bool, where)
    cert = r.get(t, "certificate_arn", str, where, default="")
    spot = r.get(t, "fargate_spot_weight", int, where, default=0)
    drop_headers = r.get(t, "alb_drop_invalid_headers", bool, where, default=True)
    if spot is not None and not 0 <= spot <= 1000:
        problems.append(f"{where}: fargate_spot_weight {spot} must be between 0 and 1000")

    _check_network(where, vpc_cidr, public, private, nat, problems)
    if retention is not None and retention not in LOG_RETENTION_DAYS:
        problems.append(
            f"{where}: log_retention_days {retention} is not accepted by CloudWatch Logs; "
            f"use one of {', '.join(map(str, LOG_RETENTION_DAYS))}"
        )
    if cert and not _ACM_ARN.match(cert):
        problems.append(f"{where}: certificate_arn {cert!r} is not an ACM certificate ARN")

    defaults = r.get(t, "service_defaults", dict, where)
    overrides = r.get(t, "services", dict, where, default={})
    sizing: dict[str, ServiceSizing] = {}
    if defaults is not None:
        r.unknown(defaults, _SIZING_FIELDS, f"{where}: service_defaults")
        known = {s.name for s in services}
        for svc_name in sorted(set(overrides) - known):
            problems.append(
                f"{where}: services.{svc_name} is not a service in the catalogue "
                f"(known: {', '.join(sorted(known))})"
            )
        for svc in services:
            merged = {**defaults, **overrides.get(svc.name, {})}
            size = _sizing(r, f"{where}, service {svc.name}", merged, problems)
            if size is not None:
                sizing[svc.name] = size
    if len(problems) > n:
        return None
    return Environment(
        name=name,
        project=project,
        region=region,
        vpc_cidr=vpc_cidr,
        public_subnets=tuple(public),
        private_subnets=tuple(private),
        nat_gateways=nat,
        log_retention_days=retention,
        protected=protected,
        retain_stateful_resources=retain,
        alb_deletion_protection=alb_protect,
        certificate_arn=cert,
        fargate_spot_weight=spot,
        alb_drop_invalid_headers=drop_headers,
        discovery_namespace=namespace,
        services=services,
        sizing=sizing,
    )


def _sizing(r: _Reader, where: str, t: dict[str, Any], problems: list[str]) -> ServiceSizing | None:
    r.unknown(t, _SIZING_FIELDS, where)
    n = len(problems)
    values: dict[str, Any] = {}
    for f in fields(ServiceSizing):
        kind = bool if f.type == "bool" else int
        default = ... if f.default is MISSING else f.default
        values[f.name] = r.get(t, f.name, kind, where, default=default)
    if len(problems) > n:
        return None
    cpu, memory = values["cpu"], values["memory"]
    if cpu not in FARGATE_SIZES:
        problems.append(
            f"{where}: cpu {cpu} is not a Fargate size; use one of "
            f"{', '.join(map(str, FARGATE_SIZES))}"
        )
    elif memory not in FARGATE_SIZES[cpu]:
        allowed = FARGATE_SIZES[cpu]
        problems.append(
            f"{where}: cpu/memory {cpu}/{memory} is not a Fargate combination; with cpu {cpu} "
            f"memory must be one of {', '.join(map(str, allowed))}"
        )
    lo, hi, want = values["min_count"], values["max_count"], values["desired_count"]
    if lo < 0 or want < 0:
        problems.append(f"{where}: min_count and desired_count must not be negative")
    if lo > hi:
        problems.append(f"{where}: min_count {lo} is greater than max_count {hi}")
    if values["autoscaling"] and not lo <= want <= hi:
        problems.append(
            f"{where}: desired_count {want} must lie between min_count {lo} and max_count {hi}"
        )
    if not 1 <= values["cpu_target_percent"] <= 100:
        problems.append(f"{where}: cpu_target_percent must be between 1 and 100")
    if not 0 <= values["deregistration_delay_seconds"] <= 3600:
        problems.append(f"{where}: deregistration_delay_seconds must be between 0 and 3600")
    for key in ("healthy_threshold", "unhealthy_threshold"):
        if not 2 <= values[key] <= 10:
            problems.append(f"{where}: {key} must be between 2 and 10")
    if not 5 <= values["health_check_interval_seconds"] <= 300:
        problems.append(f"{where}: health_check_interval_seconds must be between 5 and 300")
    if len(problems) > n:
        return None
    return ServiceSizing(**values)


def _check_network(
    where: str,
    vpc_cidr: str | None,
    public: list | None,
    private: list | None,
    nat: int | None,
    problems: list[str],
) -> None:
    if vpc_cidr is None:
        return
    try:
        vpc = ipaddress.ip_network(vpc_cidr)
    except ValueError as exc:
        problems.append(f"{where}: vpc_cidr {vpc_cidr!r} is not a valid CIDR block ({exc})")
        return
    if vpc.version != 4 or not 16 <= vpc.prefixlen <= 28:
        problems.append(f"{where}: vpc_cidr {vpc_cidr} must be IPv4 with a /16 to /28 prefix")
        return
    if not vpc.is_private:
        problems.append(f"{where}: vpc_cidr {vpc_cidr} is not a private (RFC 1918) range")
    subnets: list[tuple[str, ipaddress.IPv4Network]] = []
    for kind, cidrs in (("public_subnets", public), ("private_subnets", private)):
        for cidr in cidrs or []:
            try:
                net = ipaddress.ip_network(cidr)
            except (ValueError, TypeError) as exc:
                problems.append(f"{where}: {kind} entry {cidr!r} is not a valid CIDR block ({exc})")
                continue
            if net.version != vpc.version or not net.subnet_of(vpc):
                problems.append(f"{where}: {kind} entry {cidr} does not fit in vpc_cidr {vpc_cidr}")
            elif not 16 <= net.prefixlen <= 28:
                problems.append(f"{where}: {kind} entry {cidr} must have a /16 to /28 prefix")
            subnets.append((f"{kind} entry {cidr}", net))
    for i, (a_name, a) in enumerate(subnets):
        for b_name, b in subnets[i + 1 :]:
            if a.overlaps(b):
                problems.append(f"{where}: {a_name} overlaps {b_name}")
    if public is not None and private is not None:
        if len(public) != len(private):
            problems.append(
                f"{where}: public_subnets ({len(public)}) and private_subnets ({len(private)}) "
                "must have one entry per availability zone each"
            )
        if len(public) < 2:
            problems.append(
                f"{where}: at least 2 availability zones are needed (an ALB requires two); "
                f"got {len(public)}"
            )
        if nat is not None and not 1 <= nat <= len(public):
            problems.append(
                f"{where}: nat_gateways {nat} must be between 1 and the number of "
                f"availability zones ({len(public)})"
            )


def _check_cidrs_do_not_overlap(envs: Mapping[str, Environment], problems: list[str]) -> None:
    items = sorted(envs.items())
    for i, (a_name, a) in enumerate(items):
        for b_name, b in items[i + 1 :]:
            if ipaddress.ip_network(a.vpc_cidr).overlaps(ipaddress.ip_network(b.vpc_cidr)):
                problems.append(
                    f"environment {b_name}: vpc_cidr {b.vpc_cidr} overlaps environment "
                    f"{a_name}'s {a.vpc_cidr}"
                )
