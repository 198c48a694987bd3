"""`status`: where an environment's root stack stands: status and last update (ISO 8601), the
image tag each service runs, termination protection and stack policy, outputs (the URL), and
this environment's change sets waiting for review or execution. `overview` does it for every
environment, one line each."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from cfn import naming
from cfn.config import Environment
from cfn.deploy import cleanup
from cfn.deploy.aws import error_code
from cfn.deploy.timeutil import iso

# A stack created by a change set that was never executed: it holds nothing yet.
NOT_DEPLOYED = {"REVIEW_IN_PROGRESS"}


@dataclass
class Status:
    environment: str
    stack: str
    exists: bool
    deployed: bool = False
    status: str | None = None
    last_updated: str | None = None
    image_tags: dict[str, str] = field(default_factory=dict)
    termination_protection: bool | None = None
    stack_policy: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    pending_change_sets: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _describe(cfn: Any, stack: str) -> dict[str, Any] | None:
    try:
        return cfn.describe_stacks(StackName=stack)["Stacks"][0]
    except Exception as exc:
        if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
            return None
        raise


def _policy(cfn: Any, stack: str) -> str:
    body = cfn.get_stack_policy(StackName=stack).get("StackPolicyBody")
    if not body:
        return "none"
    try:
        statements = json.loads(body).get("Statement", [])
    except (ValueError, AttributeError):
        return "set"
    denies = sum(1 for s in statements if s.get("Effect") == "Deny")
    return f"set ({len(statements)} statement(s), {denies} deny)"


def run(cfn: Any, env: Environment) -> Status:
    stack = naming.root_stack(env)
    desc = _describe(cfn, stack)
    if desc is None:
        return Status(env.name, stack, exists=False)
    params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in desc.get("Parameters", [])}
    deployed = desc["StackStatus"] not in NOT_DEPLOYED
    return Status(
        environment=env.name,
        stack=stack,
        exists=True,
        deployed=deployed,
        status=desc["StackStatus"],
        last_updated=iso(desc.get("LastUpdatedTime") or desc.get("CreationTime")),
        image_tags={
            s.name: params[naming.image_tag_parameter(s)]
            for s in env.services
            if deployed and params.get(naming.image_tag_parameter(s))
        },
        termination_protection=bool(desc.get("EnableTerminationProtection")),
        stack_policy=_policy(cfn, stack),
        outputs=dict(
            sorted((o["OutputKey"], o.get("OutputValue", "")) for o in desc.get("Outputs", []))
        ),
        pending_change_sets=[c.to_dict() for c in cleanup.waiting(cfn, stack)],
    )


def to_text(s: Status, env: Environment) -> str:
    if not s.exists:
        return (
            f"stack {s.stack} does not exist: bootstrap, plan and execute it "
            f"(bin/deploy plan --env {env.name})"
        )
    if not s.deployed:
        lines = [
            f"stack {s.stack}: not deployed yet ({s.status}: a change set creates it once "
            f"executed; created {s.last_updated})"
        ]
    else:
        lines = [
            f"stack {s.stack}: {s.status} (last change {s.last_updated})",
            *([f"URL: {s.outputs['LoadBalancerUrl']}"] if "LoadBalancerUrl" in s.outputs else []),
            "image tags: " + (", ".join(f"{k}={v}" for k, v in s.image_tags.items()) or "none"),
            f"termination protection: {'on' if s.termination_protection else 'off'}; "
            f"stack policy: {s.stack_policy}",
        ]
        if s.outputs:
            lines.append("outputs:")
            lines += [f"  {k} = {v}" for k, v in s.outputs.items()]
    if s.pending_change_sets:
        lines.append(f"change sets waiting ({len(s.pending_change_sets)}):")
        lines += [f"  {c['name']}  created {c['created']}" for c in s.pending_change_sets]
        lines.append(
            f"execute the reviewed one, or delete old ones: bin/deploy cleanup --env {env.name}"
        )
    else:
        lines.append("no change set waiting")
    return "\n".join(lines)


def _tags(s: Status) -> str:
    """The most common tag, and the services running another: `1a2b3c4 (sportmonks-service
    9f8e7d6)`."""
    if not s.image_tags:
        return "-"
    tags = list(s.image_tags.values())
    common = max(tags, key=tags.count)
    others = [f"{k} {v}" for k, v in s.image_tags.items() if v != common]
    return common + (f" ({', '.join(others)})" if others else "")


def overview_text(statuses: list[Status]) -> str:
    """One line per environment: the `status --all` screen."""
    rows = [("ENV", "STATUS", "LAST CHANGE", "WAITING", "PROTECTED", "IMAGE TAGS", "URL")]
    for s in statuses:
        if not s.exists:
            rows.append((s.environment, "not created", "-", "-", "-", "-", "-"))
            continue
        rows.append(
            (
                s.environment,
                s.status if s.deployed else f"not deployed yet ({s.status})",
                s.last_updated or "-",
                str(len(s.pending_change_sets)),
                "yes" if s.termination_protection else "no",
                _tags(s) if s.deployed else "-",
                s.outputs.get("LoadBalancerUrl", "-"),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in rows
    ).rstrip()
