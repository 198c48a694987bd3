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
policy with those logical ids exempted, and after a successful deployment sets the full policy
on every stack again (new nested stacks included).
"""

from __future__ import annotations

import json
from typing import Any

from cfn.deploy.envelope import PROTECTED_TYPES

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


def stacks(cfn: Any, root: str) -> list[str]:
    """The root and every nested stack under it (their ids), depth first."""
    found = [root]
    paginator = cfn.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=root):
        for r in page["StackResourceSummaries"]:
            if r["ResourceType"] == NESTED and r.get("PhysicalResourceId"):
                found += stacks(cfn, r["PhysicalResourceId"])
    return found


def apply(cfn: Any, root: str, allow_replace: tuple[str, ...] = ()) -> int:
    """Set the policy on the root and its nested stacks; how many stacks."""
    body = json.dumps(document(allow_replace), sort_keys=True)
    targets = stacks(cfn, root)
    for stack in targets:
        cfn.set_stack_policy(StackName=stack, StackPolicyBody=body)
    return len(targets)
