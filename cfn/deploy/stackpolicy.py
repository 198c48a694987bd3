"""The stack policy of a protected environment: CloudFormation itself refuses to replace or
delete a stateful or addressable resource (`cfn.deploy.envelope.PROTECTED_TYPES`) in an update,
unless the plan named it with `--allow-replace`.

A stack policy governs only the resources of the stack it is set on: the root's policy does not
reach into its nested stacks, where all these resources live. So the policy is set with
SetStackPolicy on the root and on every nested stack (found through ListStackResources), and
CloudFormation evaluates each nested stack's own policy when the root's update updates it.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html

ExecuteChangeSet takes no "policy during update" (only UpdateStack has
StackPolicyDuringUpdateBody), so for a plan with `--allow-replace` `execute` first sets the
policy with those resources exempted, each only on its own stack (the plan records
`STACK/LOGICAL_ID`: every service's stack has the same logical ids), and afterwards sets the
full policy on every stack again (new nested stacks included), whether the deployment
succeeded (`protect`, with termination protection) or not (`restore`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from cfn.config import Environment
from cfn.deploy import planfile
from cfn.deploy.aws import error_code, explain
from cfn.deploy.envelope import PROTECTED_TYPES
from cfn.deploy.errors import DeployError

NESTED = "AWS::CloudFormation::Stack"


def document(allow_replace: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every update allowed, but replacing or deleting a protected type denied (except the
    logical ids in `allow_replace`). A Deny wins over the Allow."""
    deny: dict[str, Any] = {
        "Effect": "Deny",
        "Action": ["Update:Replace", "Update:Delete"],
        "Principal": "*",
        "Condition": {"StringEquals": {"ResourceType": list(PROTECTED_TYPES)}},
    }
    if allow_replace:
        deny["NotResource"] = [f"LogicalResourceId/{i}" for i in allow_replace]
    else:
        deny["Resource"] = "*"
    allow = {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}
    return {"Statement": [allow, deny]}


def stacks(cfn: Any, root: str, path: str = "") -> list[tuple[str, str]]:
    """The root and every nested stack under it, depth first: (logical id path as the review's
    `Change.stack` spells it, "" for the root; stack id)."""
    found = [(path, root)]
    paginator = cfn.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=root):
        for r in page["StackResourceSummaries"]:
            if r["ResourceType"] == NESTED and r.get("PhysicalResourceId"):
                inner = f"{path}/{r['LogicalResourceId']}" if path else r["LogicalResourceId"]
                found += stacks(cfn, r["PhysicalResourceId"], inner)
    return found


def apply(cfn: Any, root: str, allow_replace: tuple[str, ...] = ()) -> int:
    """Set the policy on the root and its nested stacks, each exempting only the
    `allow_replace` ids (`STACK/LOGICAL_ID`, a root resource bare) in it; how many stacks."""
    targets = stacks(cfn, root)
    for path, stack in targets:
        ids = tuple(i.rpartition("/")[2] for i in allow_replace if i.rpartition("/")[0] == path)
        body = json.dumps(document(ids), sort_keys=True)
        cfn.set_stack_policy(StackName=stack, StackPolicyBody=body)
    return len(targets)


def by_hand(region: str, stack: str, *, termination: bool = True) -> str:
    """The commands that put the full policy (and termination protection) back on `stack`."""
    body = json.dumps(document(), sort_keys=True, separators=(",", ":"))
    policy = (
        f"aws cloudformation set-stack-policy --region {region} --stack-name {stack} "
        f"--stack-policy-body '{body}' (and the same for each nested stack of it)"
    )
    if not termination:
        return policy
    return (
        f"{policy}, and aws cloudformation update-termination-protection --region {region} "
        f"--enable-termination-protection --stack-name {stack}"
    )


def restore(cfn: Any, plan: planfile.Plan, note: Callable[[str], None]) -> None:
    """Put the full stack policy back after a run that did not succeed (failed, interrupted,
    out of time): what --allow-replace lifted must not stay lifted for the next update."""
    try:
        n = apply(cfn, plan.stack)
    except Exception as exc:  # the failure or interrupt in flight is what gets reported
        why = error_code(exc) or type(exc).__name__
        note(
            f"the stack policy loosened for --allow-replace could not be put back ({why}); "
            f"run: {by_hand(plan.region, plan.stack, termination=False)}"
        )
        return
    note(f"the run did not succeed: the full stack policy is set again on {n} stack(s)")


def protect(cfn: Any, plan: planfile.Plan, env: Environment) -> int:
    """After a successful deployment of a protected environment: termination protection on the
    root stack (a delete-stack is then refused by CloudFormation itself) and the full stack
    policy on it and every nested stack (`cfn.deploy.stackpolicy`). How many stacks (0: not
    protected)."""
    if not env.protected:
        return 0
    try:
        cfn.update_termination_protection(StackName=plan.stack, EnableTerminationProtection=True)
        return apply(cfn, plan.stack)
    except Exception as exc:
        why = explain(exc)
        if why is None:
            raise
        raise DeployError(
            f"deployed, but {plan.stack} could not be protected (termination protection, stack "
            f"policy): {why.message}",
            "give the role cloudformation:UpdateTerminationProtection and SetStackPolicy, then "
            "re-plan and execute, or run by hand: " + by_hand(plan.region, plan.stack),
        ) from None
