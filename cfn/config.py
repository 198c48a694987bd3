"""The platform's configuration: environments and the service catalogue, as typed, immutable data.

`load()` reads `insightxi.toml` (beside this module, or a path given), checks every value and
returns a `Platform`. The models are frozen pydantic models that forbid unknown fields; each
field carries its own constraint (`cfn.configtypes`), and the rules that span fields (Fargate
sizes, CIDRs, uniqueness, names against AWS's limits) live in `cfn.validation`. Every problem
found is raised together in one `ConfigError`, each message naming the environment, the service
and the field, and saying what would be valid. Each service and environment is checked on its
own, so one bad value never hides another, and a service with a bad field is still a service
that `depends_on` and per-environment overrides may name.
Stack modules read these objects and never test an environment's name: differences between
environments are values here.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from cfn import validation
from cfn.config_safety import EnvironmentSafety, ServiceSafety
from cfn.configtypes import (
    Action,
    Arn,
    Bool,
    Count,
    DnsLabel,
    EnvName,
    EnvPairs,
    Int,
    Namespace,
    PathPattern,
    ProjectName,
    Seconds,
    Str,
    UrlPath,
    VarName,
    at_most,
    between,
    describe,
    matching,
    not_empty,
    one_of,
)

# Re-exported: part of this module's public API (the tests read the accepted values here).
from cfn.limits import FARGATE_SIZES as FARGATE_SIZES
from cfn.limits import LOG_RETENTION_DAYS as LOG_RETENTION_DAYS
from cfn.validation_network import check_environments

DEFAULT_CONFIG_PATH = Path(__file__).with_name("insightxi.toml")
_MODEL = ConfigDict(frozen=True, extra="forbid")


class ConfigError(Exception):
    """The configuration is invalid; `problems` holds one message per problem."""

    def __init__(self, problems: list[str], source: Path | str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s){where}:\n{lines}")


class Service(ServiceSafety):
    """One service of the catalogue: what it is, the same in every environment."""

    model_config = _MODEL

    name: Annotated[
        Str, matching(r"[a-z][a-z0-9-]*[a-z0-9]", "lowercase letters, digits and hyphens")
    ]
    discovery_name: DnsLabel
    port: Annotated[Int, between(1, 65535)]
    # ECR's own rules are checked in cfn.validation (a pasted registry URI gets explained).
    repository: Str
    health_check_path: Annotated[UrlPath, at_most(1024)]
    path_patterns: Annotated[
        tuple[PathPattern, ...], not_empty("pattern"), at_most(5, "rule-condition-values")
    ]
    listener_priority: Annotated[Int, between(1, 50000, "listener-priority")]
    environment: EnvPairs = ()
    secrets: tuple[VarName, ...] = ()
    depends_on: tuple[Str, ...] = ()
    # IAM actions the application itself needs (the task role); empty as in the seed.
    task_role_actions: tuple[Action, ...] = ()
    task_role_resources: tuple[Arn, ...] = ()


class ServiceSizing(BaseModel):
    """How one service runs in one environment."""

    model_config = _MODEL

    cpu: Int
    memory: Int
    desired_count: Count
    min_count: Count
    max_count: Count
    cpu_target_percent: Annotated[Int, between(1, 100)]
    autoscaling: Bool = True
    health_check_grace_seconds: Seconds = 60
    deregistration_delay_seconds: Annotated[Int, between(0, 3600, "deregistration-delay")] = 30
    healthy_threshold: Annotated[Int, between(2, 10, "health-check-thresholds")] = 2
    unhealthy_threshold: Annotated[Int, between(2, 10, "health-check-thresholds")] = 3
    health_check_interval_seconds: Annotated[Int, between(5, 300, "health-check-interval")] = 15
    health_check_timeout_seconds: Annotated[Int, between(2, 120, "health-check-timeout")] = 5
    scale_in_cooldown_seconds: Seconds = 300
    scale_out_cooldown_seconds: Seconds = 60


class EnvironmentSettings(EnvironmentSafety):
    """An environment's own values: what its TOML table and the `Environment` share."""

    model_config = _MODEL

    region: Str
    vpc_cidr: Str
    public_subnets: tuple[Str, ...]
    private_subnets: tuple[Str, ...]
    nat_gateways: Int
    log_retention_days: Annotated[
        Int, one_of(LOG_RETENTION_DAYS, "CloudWatch Logs", "log-retention")
    ]
    protected: Bool
    retain_stateful_resources: Bool
    alb_deletion_protection: Bool
    certificate_arn: Str = ""
    fargate_spot_weight: Annotated[Int, between(0, 1000, "capacity-weight")] = 0
    alb_drop_invalid_headers: Bool = True


class _EnvironmentTable(EnvironmentSettings):
    """`[environments.<name>]` as written: the settings, the defaults, per-service overrides."""

    service_defaults: dict[Str, Any]
    services: dict[Str, dict[Str, Any]] = Field(default_factory=dict)


class Environment(EnvironmentSettings):
    """One environment (dev, staging, prod): the network and how each service runs there."""

    name: str
    project: str
    discovery_namespace: str
    services: tuple[Service, ...]
    sizing: Mapping[str, ServiceSizing]

    def __hash__(self) -> int:  # the sizing mapping is not hashable; equal ones share these
        return hash((self.project, self.name, self.region))

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


class _Head(BaseModel):
    """The top level as written; the catalogue and the environments are checked entry by entry."""

    model_config = _MODEL

    project: ProjectName
    discovery_namespace: Namespace
    services: Annotated[list[Any], not_empty("[[services]] entry")]
    environments: Annotated[dict[Any, Any], not_empty("[environments.<name>] table")]


class Platform(BaseModel):
    """The whole configuration: the project, its services and its environments."""

    model_config = _MODEL

    project: str
    discovery_namespace: str
    services: tuple[Service, ...]
    environments: Mapping[str, Environment]

    def __hash__(self) -> int:
        return hash((self.project, tuple(self.environments)))

    def env(self, name: str) -> Environment:
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(self.environments)
            raise ConfigError([f"unknown environment {name!r}; known: {known}"]) from None


# -- loading ---------------------------------------------------------------------------------

_SHAPES = {
    "services": "an array of tables ([[services]])",
    "environments": "a table of environments ([environments.<name>])",
}
_SETTINGS = tuple(EnvironmentSettings.model_fields)
_ENV_NAME = TypeAdapter(EnvName)
_ENV_SHAPES = {
    "services": "a table per service ([environments.<env>.services.<service>]), "
    "not an array of tables ([[environments.<env>.services]])",
    "service_defaults": "a table ([environments.<env>.service_defaults])",
}


def load(path: Path | str | None = None) -> Platform:
    """Read and validate the configuration; raise `ConfigError` listing every problem."""
    source = Path(path) if path else DEFAULT_CONFIG_PATH
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"configuration file not found: {source}"], source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"cannot read the configuration file: {exc}"], source) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], source) from None
    return from_dict(raw, source)


def _check(model: type[BaseModel], data: Any, where: str, problems: list[str], **kw: Any) -> Any:
    """`model` validated from `data`, or None with one message per problem added."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        known = model.model_fields
        problems.extend(f"{where}: {describe(e, known, **kw)}" for e in exc.errors())
        return None


def from_dict(raw: Any, source: Path | str | None = None) -> Platform:
    """Build and validate a `Platform` from already-parsed data (a TOML document's dict)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(["top level: the configuration must be a table"], source)
    problems: list[str] = []
    head = _check(_Head, raw, "top level", problems, shapes=_SHAPES)
    entries = raw.get("services") if isinstance(raw.get("services"), list) else []
    # Without a readable catalogue, overrides cannot be judged: say nothing rather than guess.
    known = validation.service_names(entries) if entries else None
    services = [s for i, t in enumerate(entries) if (s := _service(i, t, problems))]
    problems += validation.check_catalogue(services, entries)
    tables = raw.get("environments")
    settings: dict[str, EnvironmentSettings] = {}
    sizing: dict[str, dict[str, ServiceSizing]] = {}
    for name, table in tables.items() if isinstance(tables, Mapping) else ():
        env, sizing[name] = _environment(name, table, known, problems)
        if env is not None:
            settings[name] = env
    problems += check_environments(settings)
    problems = list(dict.fromkeys(problems))  # a shared default's problem, once
    if problems or head is None:
        raise ConfigError(problems, source)
    platform = Platform(
        project=head.project,
        discovery_namespace=head.discovery_namespace,
        services=tuple(services),
        environments={
            name: Environment(
                **dict(s),
                name=name,
                project=head.project,
                discovery_namespace=head.discovery_namespace,
                services=tuple(services),
                sizing=sizing[name],
            )
            for name, s in settings.items()
        },
    )
    # Names and policies are built from every value above: checked once those are valid.
    problems += validation.check_platform(platform)
    if problems:
        raise ConfigError(problems, source)
    return platform


def _service(i: int, table: Any, problems: list[str]) -> Service | None:
    name = table.get("name") if isinstance(table, Mapping) else None
    where = f"service {name}" if validation.is_plain(name) else f"service #{i + 1}"
    if not isinstance(table, Mapping):
        problems.append(f"{where}: must be a table ([[services]]), got {table!r:.40}")
        return None

    def rename(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
        # Variables are validated as sorted pairs: name them by their key, not their index.
        if loc[:1] == ("environment",) and len(loc) > 1 and isinstance(loc[1], int):
            if loc[2:3] == (0,):
                return ("environment variable name",)
            return ("environment", str(sorted(table.get("environment", {}), key=str)[loc[1]]))
        return loc

    service = _check(Service, table, where, problems, rename=rename)
    if service is not None:
        problems += validation.check_service(where, service)
    return service


def _environment(
    name: Any, table: Any, known: list[str] | None, problems: list[str]
) -> tuple[EnvironmentSettings | None, dict[str, ServiceSizing]]:
    """The environment's settings (None if invalid) and the sizing of each service that is valid."""
    where = f"environment {name}" if validation.is_plain(name) else f"environment {name!r:.40}"
    try:
        _ENV_NAME.validate_python(name)
    except ValidationError as exc:
        problems.extend(f"{where}: name {describe(e, ())}" for e in exc.errors())
    if not isinstance(table, Mapping):
        problems.append(f"{where}: must be a table ([environments.{name}]), got {table!r:.40}")
        return None, {}
    shapes = {k: v.replace("<env>", str(name)) for k, v in _ENV_SHAPES.items()}
    env = _check(_EnvironmentTable, table, where, problems, shapes=shapes)
    settings = None
    if env is not None:
        problems += validation.check_environment(where, env)
        settings = EnvironmentSettings(**{k: getattr(env, k) for k in _SETTINGS})
    overrides = table.get("services") if isinstance(table.get("services"), Mapping) else {}
    for unknown in [k for k in overrides if known is not None and k not in known]:
        problems.append(
            f"{where}: services.{validation.short(str(unknown))} is not a service in the catalogue "
            f"(known: {', '.join(sorted(map(validation.short, known or ())))})"
        )
    defaults = table.get("service_defaults")
    sizing: dict[str, ServiceSizing] = {}
    for svc in dict.fromkeys(known or ()) if isinstance(defaults, Mapping) else ():
        override = overrides.get(svc) if isinstance(overrides.get(svc), Mapping) else {}
        size = _sizing(where, validation.short(svc), defaults, override, problems)
        if size is not None:
            sizing[svc] = size
    return settings, sizing


def _sizing(
    where: str, svc: str, defaults: Mapping[str, Any], override: Mapping[str, Any], problems: list
) -> ServiceSizing | None:
    """One service's sizing in one environment: the defaults, then its override."""
    merged = {**defaults, **override}
    try:
        size = ServiceSizing.model_validate(merged)
    except ValidationError as exc:
        for e in exc.errors():
            # A default's problem is the defaults' (said once); an override's, the service's.
            field = e["loc"][0] if e["loc"] else ""
            from_defaults = field in defaults and field not in override
            at = f"{where}: service_defaults" if from_defaults else f"{where}, service {svc}"
            problems.append(f"{at}: {describe(e, ServiceSizing.model_fields)}")
        return None
    found = validation.check_sizing(f"{where}, service {svc}", size)
    problems += found
    return None if found else size
