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
  buckets) is refused unless the plan names it with `--allow-replace LOGICAL_ID`; the plan
  file records what was allowed and the review shows it.
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


def guard_replacements(
    env: Environment, changes: list[Change], allow_replace: tuple[str, ...]
) -> list[str]:
    """In a protected environment, refuse a change set that replaces or removes a protected
    resource not named by `--allow-replace`; the review's lines for those it allows."""
    if not env.protected:
        if allow_replace:
            raise DeployError(
                f"--allow-replace: {env.name} is not protected; nothing to allow",
                "plan without --allow-replace",
            )
        return []
    hit = [
        c
        for c in changes
        if c.resource_type in PROTECTED_TYPES
        and (c.action == "Remove" or c.replacement in ("True", "Conditional"))
    ]
    refused = [c for c in hit if c.logical_id not in allow_replace]
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
            + " ".join(f"--allow-replace {c.logical_id}" for c in refused),
        )
    unused = sorted(set(allow_replace) - {c.logical_id for c in hit})
    if unused:
        raise DeployError(
            f"--allow-replace {', '.join(unused)}: this change set replaces no protected "
            "resource by that logical id",
            "plan again without it",
        )
    return [f"allowed to replace (--allow-replace): {c.where} ({c.resource_type})" for c in hit]
