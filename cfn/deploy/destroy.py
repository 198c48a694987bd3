"""`destroy`: delete an environment's root stack (and with it every nested stack), after a
review of what goes and what stays.

Stays: resources whose `DeletionPolicy` retains them (read from each deployed template), the
bootstrap stack with its artifacts bucket, and the secrets (they are not in the stack). The
deletion is followed with the same event display as `execute`; when it fails, each resource that
could not be deleted is listed with AWS's reason and the command that resolves it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from cfn import naming
from cfn.config import Environment
from cfn.deploy import changesets, events
from cfn.deploy.errors import DeployError, DeploymentFailed, StackStateError

_RETAINED = ("Retain", "RetainExceptOnCreate")
_GONE = ("DELETE_COMPLETE", "DELETE_SKIPPED")
_STACK = "AWS::CloudFormation::Stack"


@dataclass(frozen=True)
class Resource:
    stack: str  # path of nested logical ids from the root, "" for the root
    logical_id: str
    type: str
    physical_id: str
    deletion_policy: str = "Delete"


@dataclass
class DestroyPlan:
    environment: str
    stack: str
    stack_id: str
    status: str
    region: str
    termination_protection: bool
    deleted: list[Resource] = field(default_factory=list)
    kept: list[Resource] = field(default_factory=list)
    kept_outside: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _template_resources(cfn: Any, stack: str) -> dict[str, Any]:
    body = cfn.get_template(StackName=stack, TemplateStage="Original")["TemplateBody"]
    if isinstance(body, str):  # JSON comes parsed; anything else is not ours
        try:
            body = json.loads(body)
        except ValueError:
            return {}
    return body.get("Resources", {})


def _walk(cfn: Any, stack: str, path: str, plan: DestroyPlan) -> None:
    declared = _template_resources(cfn, stack)
    summaries = [
        r
        for page in changesets.pages(cfn.list_stack_resources, StackName=stack)
        for r in page["StackResourceSummaries"]
        if r.get("ResourceStatus") not in _GONE
    ]
    for r in sorted(summaries, key=lambda r: r["LogicalResourceId"]):
        policy = declared.get(r["LogicalResourceId"], {}).get("DeletionPolicy", "Delete")
        res = Resource(
            path, r["LogicalResourceId"], r["ResourceType"], r.get("PhysicalResourceId", ""), policy
        )
        if policy in _RETAINED:
            plan.kept.append(res)
            continue
        plan.deleted.append(res)
        if res.type == _STACK and res.physical_id:
            child = f"{path}/{res.logical_id}" if path else res.logical_id
            _walk(cfn, res.physical_id, child, plan)


def preview(clients: Any, env: Environment) -> DestroyPlan | None:
    """What a deletion would delete and keep; None when the stack does not exist."""
    cfn = clients.cloudformation
    stack = naming.root_stack(env)
    state = changesets.stack_state(cfn, stack)
    if not state.exists:
        return None
    if (state.status or "").endswith("_IN_PROGRESS") and state.status != "REVIEW_IN_PROGRESS":
        raise StackStateError(
            f"stack {stack} is busy ({state.status}): wait until it finishes",
            f"check again with bin/deploy status --env {env.name}",
        )
    desc = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    plan = DestroyPlan(
        environment=env.name,
        stack=stack,
        stack_id=desc["StackId"],
        status=desc["StackStatus"],
        region=clients.region,
        termination_protection=bool(desc.get("EnableTerminationProtection")),
    )
    _walk(cfn, desc["StackId"], "", plan)
    bucket = changesets.stack_state(cfn, naming.bootstrap_stack(env)).outputs.get(
        "ArtifactsBucketName", ""
    )
    plan.kept_outside = [
        f"stack {naming.bootstrap_stack(env)} and its artifacts bucket {bucket or '(none)'}",
        f"the secrets {env.project}/{env.name}/* in Secrets Manager",
    ]
    plan.blockers = _protected_load_balancers(clients, plan)
    return plan


def _protected_load_balancers(clients: Any, plan: DestroyPlan) -> list[str]:
    out = []
    for r in plan.deleted:
        if r.type != "AWS::ElasticLoadBalancingV2::LoadBalancer" or not r.physical_id:
            continue
        attrs = clients.elbv2.describe_load_balancer_attributes(LoadBalancerArn=r.physical_id)
        values = {a["Key"]: a["Value"] for a in attrs["Attributes"]}
        if values.get("deletion_protection.enabled") == "true":
            out.append(
                f"{r.stack}/{r.logical_id} has deletion protection; lift it: "
                f"{_lift_alb(plan.region, r.physical_id)}"
            )
    return out


def _lift_alb(region: str, arn: str) -> str:
    return (
        f"aws elbv2 modify-load-balancer-attributes --region {region} --load-balancer-arn {arn} "
        "--attributes Key=deletion_protection.enabled,Value=false"
    )


def to_text(plan: DestroyPlan) -> str:
    nested = sum(1 for r in plan.deleted if r.type == _STACK)
    lines = [f"Destroy {plan.stack} ({plan.environment}, {plan.region}): {plan.status}", ""]
    if plan.status == "REVIEW_IN_PROGRESS":
        lines.append("Deleted: the stack and its waiting change sets (it was never deployed)")
    else:
        lines.append(
            f"Deleted: the stack, {nested} nested stack(s), "
            f"{len(plan.deleted) - nested} other resource(s):"
        )
    by_stack: dict[str, list[Resource]] = {}
    for r in plan.deleted:
        if r.type != _STACK:
            by_stack.setdefault(r.stack or "(root)", []).append(r)
    for stack, resources in by_stack.items():
        kinds = [r.type.rsplit("::", 1)[-1] for r in resources]
        counted = [
            f"{k} x{kinds.count(k)}" if kinds.count(k) > 1 else k for k in sorted(set(kinds))
        ]
        lines.append(f"  - {stack:<20} {len(resources):>3}  {', '.join(counted)}")
    lines += ["", "Kept:"]
    lines += [
        f"  = {(r.stack + '/' if r.stack else '') + r.logical_id:<32} {r.type:<44} "
        f"{r.physical_id}  (DeletionPolicy {r.deletion_policy})"
        for r in plan.kept
    ]
    lines += [f"  = {what}" for what in plan.kept_outside]
    lines.append("")
    lines.append(f"Termination protection: {'on' if plan.termination_protection else 'off'}")
    lines += [f"Blocked: {b}" for b in plan.blockers]
    return "\n".join(lines)


class DestroyFailed(DeploymentFailed):
    """The deletion ended in DELETE_FAILED; each failure says why and what resolves it."""


def _remedy(r: Resource, reason: str, env: Environment, region: str) -> str:
    again = f"then run bin/deploy destroy --env {env.name} again"
    if "deletion protection" in reason and r.type.endswith("LoadBalancer"):
        return f"lift it: {_lift_alb(region, r.physical_id)}; {again}"
    if r.type == "AWS::S3::Bucket" and "not empty" in reason:
        return f"empty s3://{r.physical_id} (every object version: the console's Empty); {again}"
    if "depend" in reason.lower() or "in use" in reason.lower():
        return f"something outside the stack still uses it: remove that first; {again}"
    return (
        f"resolve the cause, {again}; or keep the resource: aws cloudformation delete-stack "
        f"--region {region} --stack-name {r.stack} --retain-resources {r.logical_id}"
    )


def check_protection(plan: DestroyPlan, lift_termination_protection: bool) -> None:
    """Refuse, before anything is deleted, what would stop the deletion halfway: a protected
    load balancer; and a stack with termination protection unless asked to lift it."""
    if plan.blockers:
        raise DeployError(
            f"{len(plan.blockers)} resource(s) of {plan.stack} cannot be deleted as they are: "
            "nothing was deleted",
            "\n  ".join(plan.blockers) + f"\n  then run bin/deploy destroy --env "
            f"{plan.environment} again",
        )
    if plan.termination_protection and not lift_termination_protection:
        raise DeployError(
            f"{plan.stack} has termination protection: nothing was deleted",
            "pass --lift-termination-protection to lift it as part of the destroy",
        )


def run(
    clients: Any,
    env: Environment,
    plan: DestroyPlan,
    *,
    lift_termination_protection: bool,
    on_event: Callable[[events.Event], None],
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Delete the stack and follow it; return DELETE_COMPLETE or raise DestroyFailed."""
    cfn = clients.cloudformation
    check_protection(plan, lift_termination_protection)
    if plan.termination_protection:
        cfn.update_termination_protection(
            StackName=plan.stack_id, EnableTerminationProtection=False
        )
    op = events.Operation.before_execute(cfn, plan.stack_id, None)
    cfn.delete_stack(StackName=plan.stack_id)
    try:
        return events.follow(op, on_event=on_event, sleep=sleep)
    except DeploymentFailed:
        # follow() calls only create and update successes; a deletion ends in DELETE_COMPLETE.
        final = cfn.describe_stacks(StackName=plan.stack_id)["Stacks"][0]["StackStatus"]
        if final == "DELETE_COMPLETE":
            return final
    failed = _failed_resources(cfn, plan.stack_id)
    raise DestroyFailed(
        f"the deletion of {plan.stack} failed: {len(failed)} resource(s) could not be deleted; "
        "the stack is DELETE_FAILED and what was deleted stays deleted",
        [_failure(e, env, clients.region) for e in failed]
        or ["no resource reported a failure; see the stack's events in the console"],
    )


def _failed_resources(cfn: Any, stack_id: str) -> list[dict[str, Any]]:
    """The resources whose deletion failed in the latest attempt, in nested stacks too.

    A failed nested stack is only a symptom: its own failed resources are the causes. Each
    stack's events are read back (newest first) to where its latest deletion began.
    """
    out = []
    for page in changesets.pages(cfn.describe_stack_events, StackName=stack_id):
        for e in page["StackEvents"]:
            own = e.get("PhysicalResourceId") == e.get("StackId")  # the stack itself
            if own and e["ResourceStatus"] == "DELETE_IN_PROGRESS":
                return out
            if e["ResourceStatus"] != "DELETE_FAILED" or own:
                continue
            physical = e.get("PhysicalResourceId", "")
            if e["ResourceType"] == _STACK and physical.startswith("arn:"):
                out += _failed_resources(cfn, physical)
            else:
                out.append(e)
    return out


def _failure(event: dict[str, Any], env: Environment, region: str) -> str:
    r = Resource(
        event.get("StackName", ""),
        event["LogicalResourceId"],
        event["ResourceType"],
        event.get("PhysicalResourceId", ""),
    )
    reason = event.get("ResourceStatusReason", "") or "no reason given"
    return (
        f"{r.stack} {r.logical_id} ({r.type}): {reason}\n      -> {_remedy(r, reason, env, region)}"
    )
