"""`secret set` and `secret list`: the secrets the configuration declares, in Secrets Manager
as `<project>/<env>/<service>/<NAME>` (`cfn.naming.secret`).

A value passes through here only on its way to `CreateSecret`/`PutSecretValue`: it is never
returned, printed or logged, and listing reads metadata (`DescribeSecret`), never values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from cfn import naming
from cfn.config import Environment, Service
from cfn.deploy.aws import error_code
from cfn.deploy.errors import DeployError
from cfn.deploy.timeutil import iso


def declared_secret(env: Environment, service_name: str, variable: str) -> tuple[Service, str]:
    """The service and the secret's name, if the configuration declares it; else a clear error."""
    known = [s.name for s in env.services]
    if service_name not in known:
        raise DeployError(
            f"unknown service {service_name!r} in {env.name}", f"known: {', '.join(known)}"
        )
    service = env.service(service_name)
    if variable not in service.secrets:
        declared = ", ".join(service.secrets) or "none"
        raise DeployError(
            f"{service_name} does not declare a secret {variable!r} (declared: {declared})",
            "add it to the service's `secrets` in the configuration first, then build and deploy",
        )
    return service, naming.secret(env, service, variable)


@dataclass(frozen=True)
class SetResult:
    name: str
    created: bool
    read_by: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def set_value(sm: Any, env: Environment, service_name: str, variable: str, value: str) -> SetResult:
    """Create the secret, or store a new version of it; tag it either way."""
    service, name = declared_secret(env, service_name, variable)
    if not value:
        raise DeployError("the value is empty: nothing stored", "give the value again")
    tags = [{"Key": k, "Value": v} for k, v in naming.tag_dict(env, service).items()]
    try:
        sm.create_secret(
            Name=name,
            SecretString=value,
            Tags=tags,
            Description=f"{variable} of {service.name} in {env.name} (bin/deploy secret set)",
        )
        created = True
    except Exception as exc:
        if error_code(exc) != "ResourceExistsException":
            raise
        sm.put_secret_value(SecretId=name, SecretString=value)
        sm.tag_resource(SecretId=name, Tags=tags)
        created = False
    # Names are per service (naming.secret), and only that service's execution role may read it.
    return SetResult(name, created, [service.name])


@dataclass(frozen=True)
class SecretState:
    service: str
    variable: str
    name: str
    exists: bool
    last_changed: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def list_declared(sm: Any, env: Environment) -> list[SecretState]:
    out = []
    for service in env.services:
        for variable in service.secrets:
            name = naming.secret(env, service, variable)
            try:
                meta = sm.describe_secret(SecretId=name)
            except Exception as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
                out.append(SecretState(service.name, variable, name, False, None))
                continue
            changed = meta.get("LastChangedDate") or meta.get("CreatedDate")
            out.append(SecretState(service.name, variable, name, True, iso(changed)))
    return out


def list_text(states: list[SecretState], env: Environment) -> str:
    if not states:
        return f"no service in {env.name} declares a secret"
    width = max(len(s.name) for s in states)
    lines = [
        f"{s.name.ljust(width)}  "
        + (f"set, last changed {s.last_changed}" if s.exists else "MISSING")
        for s in states
    ]
    missing = [s for s in states if not s.exists]
    lines += [
        f"set it: bin/deploy secret set --env {env.name} {s.service} {s.variable}" for s in missing
    ]
    return "\n".join(lines)
