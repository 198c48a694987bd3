"""What `plan` adds to a change set for the safety envelope (issue 14), and what it refuses.

- A protected environment whose domain or hosted zone is still the example configuration's is
  refused before anything is uploaded: its certificate could never validate.
- The rollback triggers: the root stack's `RollbackAlarmArns` output (composite alarms over the
  environment's rollback alarms) becomes the change set's `RollbackConfiguration`, watched for
  `rollback_monitoring_minutes` after the resources are deployed. A trigger must name an alarm
  that already exists, so the first deployment (no stack, or no output yet) goes without them
  and the review says so; the alarms it creates guard every later deployment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cfn.config import Environment
from cfn.config_safety import example_values
from cfn.deploy.changesets import StackState
from cfn.deploy.errors import DeployError

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
