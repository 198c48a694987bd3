"""CloudFormation mechanics: a stack's state and change sets (create, wait, describe with nested
ones, delete). Following a stack's events is `cfn.deploy.events`.

"No changes" is a normal outcome (`NoChanges`), in both forms AWS and emulators use: a FAILED
change set whose reason says so, or a `ValidationError: No updates are to be performed.` from
`create_change_set` itself.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cfn.deploy.aws import error_code
from cfn.deploy.errors import ChangeSetFailed, DeployError, StackStateError

# Polling: quick at first, then every 5 s; a change set or a deployment is given up after these.
POLL_DELAYS = (1, 1, 2, 3, 5)
CHANGE_SET_TIMEOUT = 15 * 60

_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
_MUST_DELETE = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"}
_CREATE_AGAIN = {"REVIEW_IN_PROGRESS"}
_BROKEN = {"DELETE_FAILED", "UPDATE_ROLLBACK_FAILED", "IMPORT_ROLLBACK_FAILED", "UPDATE_FAILED"}


def pages(call: Callable[..., dict[str, Any]], **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every page of a CloudFormation listing that pages with NextToken."""
    token = None
    while True:
        page = call(**kwargs, **({"NextToken": token} if token else {}))
        yield page
        token = page.get("NextToken")
        if not token:
            return


class NoChanges(Exception):
    """The change set would change nothing."""


@dataclass(frozen=True)
class StackState:
    name: str
    exists: bool
    status: str | None = None
    stack_id: str | None = None
    last_updated: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def change_set_type(self) -> str:
        return "UPDATE" if self.exists and self.status not in _CREATE_AGAIN else "CREATE"


def stack_state(cfn: Any, name: str) -> StackState:
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except Exception as exc:
        if error_code(exc) == "ValidationError" and "does not exist" in str(exc):
            return StackState(name, exists=False)
        raise
    s = stacks[0]
    return StackState(
        name=name,
        exists=True,
        status=s["StackStatus"],
        stack_id=s["StackId"],
        last_updated=str(s.get("LastUpdatedTime") or s.get("CreationTime")),
        parameters={
            p["ParameterKey"]: p.get("ParameterValue", "") for p in s.get("Parameters", [])
        },
        outputs={o["OutputKey"]: o.get("OutputValue", "") for o in s.get("Outputs", [])},
    )


def check_can_change(state: StackState, region: str) -> None:
    """Refuse, with what to do, when the stack cannot take a change set now."""
    if not state.exists or state.status in _CREATE_AGAIN:
        return
    status = state.status or ""
    if status in _MUST_DELETE:
        raise StackStateError(
            f"stack {state.name} is in {status}: its creation failed and CloudFormation cannot "
            "update it; it must be deleted first",
            "look at its events in the console, then delete it: aws cloudformation "
            f"delete-stack --region {region} --stack-name {state.name}",
        )
    if status.endswith("_IN_PROGRESS"):
        raise StackStateError(
            f"stack {state.name} is busy ({status}): wait until it finishes",
            "check again with bin/deploy status",
        )
    if status in _BROKEN or status.endswith("_FAILED"):
        raise StackStateError(
            f"stack {state.name} is in {status} and cannot take a change set",
            "resolve it in the CloudFormation console (e.g. continue update rollback), then plan "
            "again",
        )


def _poll(
    fetch: Callable[[], Any],
    done: Callable[[Any], bool],
    timeout: float,
    what: str,
    sleep: Callable[[float], None],
) -> Any:
    """Call `fetch` until `done`, sleeping with bounded backoff; raise after `timeout` seconds."""
    started = time.monotonic()
    delays = iter(POLL_DELAYS)
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() - started > timeout:
            raise DeployError(f"gave up waiting for {what} after {int(timeout)} s")
        sleep(next(delays, POLL_DELAYS[-1]))


def create_change_set(
    cfn: Any,
    *,
    stack: str,
    name: str,
    change_set_type: str,
    tags: dict[str, str],
    description: str,
    template_url: str | None = None,
    template_body: str | None = None,
    parameters: list[dict[str, Any]] | None = None,
    capabilities: Iterable[str] = (),
    deployment_mode: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Create the change set (nested stacks included) and wait for it; return its description.

    `deployment_mode="REVERT_DRIFT"` makes a drift-aware change set (it also puts back what was
    changed outside CloudFormation); `extra` are further CreateChangeSet parameters (the
    rollback configuration, the service role). Raises NoChanges (after deleting the empty
    change set) or ChangeSetFailed, with the reasons of the nested change sets that failed.
    """
    source = {"TemplateURL": template_url} if template_url else {"TemplateBody": template_body}
    if deployment_mode:
        source["DeploymentMode"] = deployment_mode
    try:
        created = cfn.create_change_set(
            StackName=stack,
            ChangeSetName=name,
            ChangeSetType=change_set_type,
            Parameters=parameters or [],
            Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
            Capabilities=list(capabilities),
            IncludeNestedStacks=True,
            Description=description[:1024],
            **source,
            **(extra or {}),
        )
    except Exception as exc:
        if error_code(exc) == "ValidationError" and any(s in str(exc) for s in _NO_CHANGES):
            raise NoChanges() from None
        raise
    change_set_id = created["Id"]
    desc = _poll(
        lambda: cfn.describe_change_set(ChangeSetName=change_set_id),
        lambda d: d["Status"] in ("CREATE_COMPLETE", "FAILED"),
        CHANGE_SET_TIMEOUT,
        f"change set {name}",
        sleep,
    )
    if desc["Status"] == "FAILED":
        reason = desc.get("StatusReason") or "no reason given"
        if any(s in reason for s in _NO_CHANGES):
            cfn.delete_change_set(ChangeSetName=change_set_id)
            raise NoChanges()
        nested = "".join(f"\n  {line}" for line in nested_failures(cfn, reason))
        raise ChangeSetFailed(
            f"change set {name} failed: {reason}{nested}",
            f"it was kept for inspection; delete it with: aws cloudformation delete-change-set "
            f"--change-set-name '{change_set_id}'",
        )
    if not desc.get("Changes"):
        # AWS fails an empty change set (handled above); an emulator may complete it instead.
        cfn.delete_change_set(ChangeSetName=change_set_id)
        raise NoChanges()
    return desc


_CHANGE_SET_ARN = re.compile(
    r"arn:aws[-a-z]*:cloudformation:[a-z0-9-]+:\d{12}:changeSet/[A-Za-z0-9-]+/[A-Za-z0-9-]+"
)


def nested_failures(cfn: Any, reason: str, depth: int = 0) -> list[str]:
    """The StatusReason of each nested change set a FAILED reason names, fetched from AWS.

    AWS's root reason only says "Nested change set <arn> was not successfully created: Currently
    in FAILED"; the nested change set's own reason says why.
    """
    found: list[str] = []
    for arn in dict.fromkeys(_CHANGE_SET_ARN.findall(reason)):
        try:
            nested = cfn.describe_change_set(ChangeSetName=arn)
        except Exception as exc:  # the root failure is still reported; say why this one is not
            found.append(f"nested change set {arn}: its reason cannot be read ({exc})")
            continue
        why = nested.get("StatusReason") or "no reason given"
        found.append(f"nested stack {nested.get('StackName', arn)}: {why}")
        if depth < 3:
            found += nested_failures(cfn, why, depth + 1)
    return found


def describe_all(cfn: Any, change_set_id: str) -> dict[str, Any]:
    """The change set with every page of changes, property values included."""
    all_pages = list(
        pages(cfn.describe_change_set, ChangeSetName=change_set_id, IncludePropertyValues=True)
    )
    first = dict(all_pages[0])
    first["Changes"] = [c for p in all_pages for c in p.get("Changes", [])]
    first.pop("NextToken", None)
    return first


@dataclass
class DescribedChangeSet:
    """A change set and, under the logical id of each nested stack, its nested change set."""

    stack_path: str
    description: dict[str, Any]
    nested: list[DescribedChangeSet] = field(default_factory=list)

    def walk(self) -> Iterator[DescribedChangeSet]:
        yield self
        for n in self.nested:
            yield from n.walk()


def describe_tree(cfn: Any, change_set_id: str, stack_path: str = "") -> DescribedChangeSet:
    desc = describe_all(cfn, change_set_id)
    node = DescribedChangeSet(stack_path, desc)
    for change in desc["Changes"]:
        rc = change.get("ResourceChange", {})
        nested_id = rc.get("ChangeSetId")
        if rc.get("ResourceType") == "AWS::CloudFormation::Stack" and nested_id:
            path = (
                f"{stack_path}/{rc['LogicalResourceId']}" if stack_path else rc["LogicalResourceId"]
            )
            node.nested.append(describe_tree(cfn, nested_id, path))
    return node
