"""What `plan` adds to a change set for the safety envelope (issue 14), and what it refuses.

- A protected environment whose domain or hosted zone is still the example configuration's is
  refused before anything is uploaded: its certificate could never validate.
- The rollback triggers: the root stack's `RollbackAlarmArns` output (composite alarms over the
  environment's rollback alarms) becomes the change set's `RollbackConfiguration`, watched for
  `rollback_monitoring_minutes` after the resources are deployed. A trigger must name an alarm
  that already exists, so the first deployment (no stack, or no output yet) goes without them
  and the review says so; the alarms it creates guard every later deployment.
- In a protected environment, a change set that replaces or removes a stateful or addressable
  resource (log groups, the Cloud Map namespace, the load balancer, the VPC, the KMS key,
  buckets) is refused unless the plan names it with `--allow-replace STACK/LOGICAL_ID` (the
  nested stack's logical id, as the review's `where` prints it; a root resource is its bare
  logical id, and a bare id that names exactly one such resource is taken for it); the plan
  file records the qualified ids and the review shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cfn.config import Environment
from cfn.config_safety import example_values
from cfn.deploy.changesets import StackState
from cfn.deploy.errors import DeployError
from cfn.deploy.review import Change

ROLLBACK_OUTPUT = "RollbackAlarmArns"
# CreateChangeSet takes at most five rollback triggers (the root's composite alarms).
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_RollbackConfiguration.html
MAX_TRIGGERS = 5
NOT_IN_FORCE = (
    "rollback triggers: not in force yet (first deployment; they apply from the next plan)"
)


@dataclass
class Envelope:
    """The change set's extra parameters, and the review's lines that say what is in force."""

    parameters: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


def refuse_example_values(env: Environment) -> None:
    """A DeployError when a protected environment still has the example domain or zone."""
    found = example_values(env)
    if not env.protected or not found:
        return
    raise DeployError(
        f"{env.name} is protected and still has example values: {'; '.join(found)}; "
        "nothing was uploaded",
        f"set domain_name (the public host name) and hosted_zone_id (its Route 53 hosted zone, "
        f"Z...) in [environments.{env.name}] of cfn/insightxi.toml, then bin/build-templates",
    )


def rollback(env: Environment, state: StackState) -> Envelope:
    """The RollbackConfiguration from the deployed root's output, or why there is none."""
    arns = [a.strip() for a in state.outputs.get(ROLLBACK_OUTPUT, "").split(",") if a.strip()]
    if not state.exists or not arns:
        return Envelope(lines=[NOT_IN_FORCE])
    if len(arns) > MAX_TRIGGERS:
        raise DeployError(
            f"{state.name} outputs {len(arns)} rollback alarms; a change set takes at most "
            f"{MAX_TRIGGERS}",
            "fewer composite alarms in the root stack (bin/build-templates), then plan again",
        )
    minutes = env.rollback_monitoring_minutes
    configuration = {
        "RollbackTriggers": [{"Arn": a, "Type": "AWS::CloudWatch::Alarm"} for a in arns],
        "MonitoringTimeInMinutes": minutes,
    }
    lines = [f"rollback triggers ({len(arns)}), monitored for {minutes} min after deployment:"]
    lines += [f"    {a}" for a in arns]
    return Envelope({"RollbackConfiguration": configuration}, lines)


# Stateful or addressable: replacing one loses data or changes an address others depend on.
PROTECTED_TYPES = (
    "AWS::Logs::LogGroup",
    "AWS::ServiceDiscovery::PrivateDnsNamespace",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::EC2::VPC",
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
)


def refuse_allow_replace(env: Environment, allow_replace: tuple[str, ...]) -> None:
    """`--allow-replace` for an unprotected environment is refused before anything is done."""
    if allow_replace and not env.protected:
        raise DeployError(
            f"--allow-replace: {env.name} is not protected; nothing to allow",
            "plan without --allow-replace",
        )


def guard_replacements(
    env: Environment, changes: list[Change], allow_replace: tuple[str, ...]
) -> tuple[tuple[str, ...], list[str]]:
    """In a protected environment, refuse a change set that replaces or removes a protected
    resource not named by `--allow-replace`. The qualified ids allowed (`Change.where`: the
    same logical id is in every service's stack, so a bare id must name exactly one of the
    replaced resources) and the review's lines for them."""
    refuse_allow_replace(env, allow_replace)
    if not env.protected:
        return (), []
    hit = [
        c
        for c in changes
        if c.resource_type in PROTECTED_TYPES
        and (c.action == "Remove" or c.replacement in ("True", "Conditional"))
    ]
    allowed = _qualified(hit, allow_replace)
    refused = [c for c in hit if c.where not in allowed]
    if refused:
        what = ", ".join(
            f"{c.where} ({c.resource_type}, "
            f"{'removed' if c.action == 'Remove' else 'replacement ' + c.replacement})"
            for c in refused
        )
        raise DeployError(
            f"{env.name} is protected and this change set replaces or removes {what}; the "
            "change set was deleted",
            "if that is intended, plan again with "
            + " ".join(f"--allow-replace {c.where}" for c in refused),
        )
    lines = [f"allowed to replace (--allow-replace): {c.where} ({c.resource_type})" for c in hit]
    return tuple(c.where for c in hit), lines


def _qualified(hit: list[Change], allow_replace: tuple[str, ...]) -> set[str]:
    """Each `--allow-replace` id as the `where` of the one replaced resource it names."""
    found: set[str] = set()
    unused = []
    for name in allow_replace:
        if "/" in name:
            matches = sorted({c.where for c in hit if c.where == name})
        else:
            matches = sorted({c.where for c in hit if c.logical_id == name})
        if len(matches) > 1:
            raise DeployError(
                f"--allow-replace {name}: this change set replaces {len(matches)} protected "
                f"resources with that logical id ({', '.join(matches)}); the change set was "
                "deleted",
                "plan again naming each one to allow with its stack: "
                + " ".join(f"--allow-replace {m}" for m in matches),
            )
        if not matches:
            unused.append(name)
        found.update(matches)
    if unused:
        raise DeployError(
            f"--allow-replace {', '.join(sorted(unused))}: this change set replaces no protected "
            "resource by that id",
            "plan again without it (a nested stack's resource is STACK/LOGICAL_ID, as the "
            "review prints it)",
        )
    return found
