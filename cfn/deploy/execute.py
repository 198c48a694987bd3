"""`execute`: run exactly the reviewed change set, then follow the stack until it settles.

Refuses (and says to plan again) when the change set is no longer executable or the stack has
moved since the plan; the CLI asks for confirmation first where the environment is protected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cfn.deploy import changesets, planfile
from cfn.deploy.aws import Clients, error_code
from cfn.deploy.errors import FollowInterrupted, StalePlan


def check_still_valid(clients: Clients, plan: planfile.Plan) -> dict[str, Any]:
    """The change set's description, if the plan can still be executed as reviewed."""
    env = plan.environment
    again = f"plan again: bin/deploy plan --env {env}"
    account = clients.sts.get_caller_identity()["Account"]
    if account != plan.account or clients.region != plan.region:
        raise StalePlan(
            f"the plan was made for account {plan.account} in {plan.region}; these "
            f"credentials are for account {account} in {clients.region}",
            "use the same profile and region as the plan",
        )
    try:
        desc = clients.cloudformation.describe_change_set(ChangeSetName=plan.change_set_id)
    except Exception as exc:
        if error_code(exc) in (
            "ChangeSetNotFound",
            "ChangeSetNotFoundException",
            "ValidationError",
        ):
            raise StalePlan(f"change set {plan.change_set_name} no longer exists", again) from None
        raise
    status, execution = desc.get("Status"), desc.get("ExecutionStatus")
    if status != "CREATE_COMPLETE" or execution != "AVAILABLE":
        raise StalePlan(
            f"change set {plan.change_set_name} cannot be executed (status {status}, "
            f"execution status {execution})",
            again,
        )
    state = changesets.stack_state(clients.cloudformation, plan.stack)
    if (state.status, state.last_updated) != (
        plan.stack_status,
        plan.stack_last_updated,
    ) and not (plan.change_set_type == "CREATE" and state.status == "REVIEW_IN_PROGRESS"):
        raise StalePlan(
            f"stack {plan.stack} changed since the plan (was {plan.stack_status} at "
            f"{plan.stack_last_updated}, now {state.status} at {state.last_updated})",
            again,
        )
    return desc


def run(
    clients: Clients,
    plan: planfile.Plan,
    *,
    on_event: Callable[[changesets.Event], None],
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Execute the plan's change set and follow it; return the stack's final status."""
    cfn = clients.cloudformation
    seen = changesets.event_ids(cfn, plan.stack_id)
    cfn.execute_change_set(ChangeSetName=plan.change_set_id)
    try:
        return changesets.follow(
            cfn, plan.stack_id, since_event_ids=seen, on_event=on_event, sleep=sleep
        )
    except KeyboardInterrupt:
        raise FollowInterrupted(
            "stopped following; the deployment goes on in CloudFormation",
            f"look again with: bin/deploy status --env {plan.environment}",
        ) from None
