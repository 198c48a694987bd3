"""What each change of a change set means: risky, routine, or a Dynamic evaluation that changes
nothing. The README's "Reading the review" section documents the same classification.

- A replacement (or possible replacement) of something stateful or addressable (load balancer,
  target group, listener, namespace, log group, security group, VPC, subnet, cluster, ...) is
  risky: its name, address or data goes. A removal is risky.
- A task definition replaced while its service in the same stack is updated is the normal path of
  an image deploy: a new revision, rolled out by the service's rolling deployment. Routine.
- Other replacements, and IAM or security-group updates, are worth a look ("check").
- On AWS, a resource (often a nested stack) whose only details are `Evaluation: Dynamic` caused by
  a value that does not change (a parameter that keeps its value, another nested stack's output
  when that stack has no real change) changes nothing: it is a no-op, shown as such, and a change
  set made only of those is "no changes".
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from cfn.deploy.review import CHECK, NO_OP, RISKY, ROUTINE, Change, Detail

STACK = "AWS::CloudFormation::Stack"
TASK_DEFINITION = "AWS::ECS::TaskDefinition"
ECS_SERVICE = "AWS::ECS::Service"

# Replacing these loses an address, a name others use, or data.
STATEFUL = {
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "a new load balancer with a new DNS name",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "a new target group: tasks re-register",
    "AWS::ElasticLoadBalancingV2::Listener": "the listener is recreated: traffic stops meanwhile",
    "AWS::ServiceDiscovery::PrivateDnsNamespace": "a new namespace: every service name changes",
    "AWS::ServiceDiscovery::Service": "a new discovery service: the name re-registers",
    "AWS::Logs::LogGroup": "a new log group: the old logs are deleted",
    "AWS::EC2::SecurityGroup": "a new security group: every rule that names it changes",
    "AWS::EC2::VPC": "a new VPC: everything in it is recreated",
    "AWS::EC2::Subnet": "a new subnet: what runs in it moves",
    "AWS::EC2::EIP": "a new public IP address",
    "AWS::EC2::NatGateway": "a new NAT gateway with a new public address",
    "AWS::ECS::Cluster": "a new cluster: every service in it is recreated",
    "AWS::S3::Bucket": "a new bucket: the old one's objects stay behind",
    "AWS::SecretsManager::Secret": "a new secret: the value is lost",
    "AWS::ECR::Repository": "a new repository: the images are lost",
}
_SECURITY_TYPES = ("AWS::IAM::", "AWS::EC2::SecurityGroup")


def _key(c: Change) -> tuple[str, str]:
    return (c.stack, c.logical_id)


def _static(c: Change) -> bool:
    """A change that is real on its face: not a Modify made only of Dynamic evaluations."""
    if c.action != "Modify" or c.replacement == "True" or not c.details:
        return True
    return any(d.evaluation != "Dynamic" for d in c.details)


class _Realness:
    """Which changes are real, found as a fixed point: a Dynamic detail is real when its cause
    (a parameter, a resource, another nested stack's output) really changes."""

    def __init__(self, changes: list[Change], changed_root: Collection[str]) -> None:
        self.changes = changes
        self.changed_root = set(changed_root)
        self.index = {_key(c): c for c in changes}
        self.real = {_key(c) for c in changes if _static(c)}
        grew = True
        while grew:
            grew = False
            for c in changes:
                if _key(c) not in self.real and self._changes_something(c):
                    self.real.add(_key(c))
                    grew = True

    def _changes_something(self, c: Change) -> bool:
        if any(self.detail(c.stack, d) for d in c.details):
            return True
        if c.resource_type == STACK:
            inside = c.where + "/"
            return any(s == c.where or s.startswith(inside) for s, _ in self.real)
        return False

    def detail(self, stack: str, d: Detail) -> bool:
        if d.evaluation != "Dynamic":
            return True
        if d.source == "ParameterReference":
            return self._parameter(stack, d.cause)
        if d.source in ("ResourceReference", "ResourceAttribute"):
            return (stack, d.cause.split(".", 1)[0]) in self.real
        return True  # a Dynamic direct modification: cannot tell, so assume it changes

    def _parameter(self, stack: str, name: str) -> bool:
        if not stack:
            return name in self.changed_root
        parent, _, logical = stack.rpartition("/")
        holder = self.index.get((parent, logical))
        if holder is None:  # the nested stack resource itself is unchanged: so are its inputs
            return False
        exact = [d for d in holder.details if d.path == f"/Properties/Parameters/{name}"]
        if exact:
            return any(self.detail(parent, d) for d in exact)
        coarse = [d for d in holder.details if not d.path.startswith("/")]
        return any(self.detail(parent, d) for d in coarse)


def _paths(c: Change, only_replacing: bool = False) -> str:
    paths = [d.path for d in c.details if d.replaces or not only_replacing]
    return ", ".join(dict.fromkeys(paths))


def _images(d: Detail) -> list[tuple[str, str]]:
    """(before, after) image URIs a detail changes: the property itself, or inside its JSON."""
    if d.path.endswith("/Image"):
        return [(d.before or "", d.after or "")]
    try:
        old, new = json.loads(d.before or "null"), json.loads(d.after or "null")
    except ValueError:
        return []
    olds, news = _image_leaves(old), _image_leaves(new)
    return [(olds[k], news[k]) for k in sorted(set(olds) & set(news)) if olds[k] != news[k]]


def _image_leaves(data: Any, path: str = "") -> dict[str, str]:
    if isinstance(data, dict):
        found = {f"{path}/Image": data["Image"]} if isinstance(data.get("Image"), str) else {}
        for key, item in data.items():
            found.update(_image_leaves(item, f"{path}/{key}"))
        return found
    if isinstance(data, list):
        return {
            k: v
            for i, item in enumerate(data)
            for k, v in _image_leaves(item, f"{path}/{i}").items()
        }
    return {}


def _image_change(c: Change) -> str:
    for d in c.details:
        for before, after in _images(d):
            repo, _, old = before.rpartition(":")
            return f" (image {repo.rsplit('/', 1)[-1]} {old} → {after.rpartition(':')[2]})"
    return ""


def _service_follows(c: Change, by_stack: dict[str, list[Change]]) -> bool:
    return any(
        s.resource_type == ECS_SERVICE and s.risk != NO_OP and s.action == "Modify"
        for s in by_stack.get(c.stack, [])
    )


def _replacement(c: Change, by_stack: dict[str, list[Change]]) -> tuple[str, str]:
    may = "may be replaced" if c.replacement == "Conditional" else "replaced"
    because = _paths(c, only_replacing=True)
    because = f" because {because} changes" if because else ""
    if c.resource_type in STATEFUL:
        return RISKY, f"{may}{because}: {STATEFUL[c.resource_type]}"
    if c.resource_type == TASK_DEFINITION and _service_follows(c, by_stack):
        return ROUTINE, (
            f"new task definition revision{_image_change(c)}, rolled out by the service's "
            "rolling deployment"
        )
    return CHECK, f"{may}{because}"


def _assess(c: Change, by_stack: dict[str, list[Change]]) -> tuple[str, str]:
    if c.action == "Remove":
        if c.resource_type == STACK:
            return RISKY, "removed, with every resource of the nested stack"
        return RISKY, "removed" + (
            f": {STATEFUL[c.resource_type]}" if c.resource_type in STATEFUL else ""
        )
    if c.action == "Add":
        return ROUTINE, ""  # "+ Add" says it all
    if c.action == "Import":
        # `plan` never imports (and the deployer policy denies import change sets): a resource
        # that already exists in the account would become the stack's, to change or delete.
        return RISKY, "imported: an existing resource becomes the stack's, to change or delete"
    if c.action != "Modify":
        return CHECK, f"{c.action.lower()}"
    if c.replacement in ("True", "Conditional"):
        return _replacement(c, by_stack)
    if c.resource_type == ECS_SERVICE and any(
        d.cause == t.logical_id
        for d in c.details
        for t in by_stack.get(c.stack, [])
        if t.resource_type == TASK_DEFINITION and t.replacement == "True"
    ):
        return ROUTINE, "rolling deployment to the new task definition revision"
    if c.resource_type == STACK:
        if c.where in by_stack:
            return ROUTINE, "nested stack update (its own changes are listed under it)"
        return ROUTINE, "nested stack update (its nested change set was not described)"
    if c.resource_type.startswith(_SECURITY_TYPES):
        return CHECK, "security-related update that does not broaden access"
    return ROUTINE, "updated in place"


def classify(changes: list[Change], changed_root: Collection[str]) -> None:
    """Set each change's `risk` and `why`, and each Dynamic detail's `no_op`, in place.

    `changed_root` are the root parameters whose value changes.
    """
    realness = _Realness(changes, changed_root)
    for c in changes:
        for d in c.details:
            d.no_op = d.evaluation == "Dynamic" and not realness.detail(c.stack, d)
        if _key(c) not in realness.real:
            c.risk, c.why = NO_OP, "Dynamic evaluation only; what it depends on does not change"
    by_stack: dict[str, list[Change]] = {}
    for c in changes:
        by_stack.setdefault(c.stack, []).append(c)
    for c in changes:
        if c.risk != NO_OP:
            c.risk, c.why = _assess(c, by_stack)
