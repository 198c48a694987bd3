"""The events of one stack operation, across the root stack and every nested stack.

An operation is known by the `ClientRequestToken` it was started with: CloudFormation stamps
each event the operation causes with it. An event is this operation's when it carries the
token; in a nested stack (found through the parent's event for it, as it appears) an event is
also accepted when it is no older than the parent's event that started that nested stack, so
that a nested stack's events count even where the token is not repeated there. Nothing older is
ever reported: a nested stack's failure from last week has another token and an older time.

Each stack is read newest first and only until the newest event already read, or an event older
than the operation: a long history costs no more calls than a short one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cfn.deploy.changesets import POLL_DELAYS
from cfn.deploy.errors import DeployError, DeploymentFailed

_STACK = "AWS::CloudFormation::Stack"


def token_for(change_set_id: str) -> str:
    """The ClientRequestToken of executing this change set: the same on every retry."""
    return "insightxi-" + hashlib.sha256(change_set_id.encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Event:
    event_id: str
    stack_name: str
    logical_id: str
    resource_type: str
    status: str
    reason: str
    timestamp: str
    physical_id: str = ""

    def line(self) -> str:
        text = (
            f"{self.timestamp[11:19]}  {self.status:<28} {self.resource_type:<42} {self.logical_id}"
        )
        return text + (f"  ({self.reason})" if self.reason else "")

    def to_dict(self) -> dict[str, str]:
        return {
            "type": "stack_event",
            "stack": self.stack_name,
            "logical_id": self.logical_id,
            "resource_type": self.resource_type,
            "status": self.status,
            "reason": self.reason,
            "timestamp": self.timestamp,
        }

    @property
    def failed(self) -> bool:
        return self.status.endswith("_FAILED")


def _event(raw: dict[str, Any]) -> Event:
    return Event(
        event_id=raw["EventId"],
        stack_name=raw.get("StackName", ""),
        logical_id=raw.get("LogicalResourceId", ""),
        resource_type=raw.get("ResourceType", ""),
        status=raw.get("ResourceStatus", ""),
        reason=raw.get("ResourceStatusReason", "") or "",
        timestamp=str(raw.get("Timestamp", "")),
        physical_id=raw.get("PhysicalResourceId", "") or "",
    )


@dataclass
class _Stack:
    stack_id: str
    # Events older than this are not this operation's (None: no lower bound known).
    since: dt.datetime | None
    nested: bool
    newest_read: str | None = None


@dataclass
class Operation:
    """One operation's events; `poll` returns the new ones, oldest first."""

    cfn: Any
    root_id: str
    token: str | None
    stacks: list[_Stack] = field(default_factory=list)
    failures: list[Event] = field(default_factory=list)
    calls: int = 0
    # When the operation started, by AWS's clock: its first event on the root stack.
    started: dt.datetime | None = None

    @classmethod
    def before_execute(cls, cfn: Any, root_id: str, token: str | None) -> Operation:
        """Mark where the root's history ends now (one call), before the operation starts."""
        op = cls(cfn, root_id, token)
        page = cfn.describe_stack_events(StackName=root_id)
        op.calls += 1
        newest = (page.get("StackEvents") or [None])[0]
        root = _Stack(root_id, newest["Timestamp"] if newest else None, nested=False)
        root.newest_read = newest["EventId"] if newest else None
        op.stacks.append(root)
        return op

    @classmethod
    def resume(cls, cfn: Any, root_id: str, token: str, since: dt.datetime | None) -> Operation:
        """Follow an operation already under way (started at `since`)."""
        op = cls(cfn, root_id, token)
        op.stacks.append(_Stack(root_id, since, nested=False))
        return op

    def _read(self, stack: _Stack) -> list[dict[str, Any]]:
        """The stack's events newer than those already read, newest first."""
        out: list[dict[str, Any]] = []
        paginator = self.cfn.get_paginator("describe_stack_events")
        for page in paginator.paginate(StackName=stack.stack_id):
            self.calls += 1
            for raw in page.get("StackEvents", []):
                if self._read_before(raw, stack):
                    break  # everything after this, on this page and the next, is older
                out.append(raw)
            else:
                continue  # the whole page was new: the next one may be too
            break
        if out:
            stack.newest_read = out[0]["EventId"]
        return out

    @staticmethod
    def _read_before(raw: dict[str, Any], stack: _Stack) -> bool:
        """Whether this event was read in an earlier round, or is older than the operation."""
        if raw["EventId"] == stack.newest_read:
            return True
        return stack.since is not None and raw["Timestamp"] < stack.since

    def _ours(self, raw: dict[str, Any], stack: _Stack) -> bool:
        if self.token is None:
            return True  # no token (e.g. a deletion): every event after the mark is ours
        if raw.get("ClientRequestToken") == self.token:
            return True
        return stack.nested and stack.since is not None and raw["Timestamp"] >= stack.since

    def poll(self) -> list[Event]:
        """Read every known stack, and each nested stack as soon as it is found."""
        new: list[tuple[Any, Event]] = []
        known = {s.stack_id for s in self.stacks}
        i = 0
        while i < len(self.stacks):
            stack = self.stacks[i]
            for raw in reversed(self._read(stack)):
                if not self._ours(raw, stack):
                    continue
                event = _event(raw)
                new.append((raw["Timestamp"], event))
                if not stack.nested and self.started is None:
                    self.started = raw["Timestamp"]
                if event.failed:
                    self.failures.append(event)
                if (
                    event.resource_type == _STACK
                    and event.physical_id.startswith("arn:")
                    and event.physical_id not in known
                ):
                    known.add(event.physical_id)
                    self.stacks.append(_Stack(event.physical_id, raw["Timestamp"], nested=True))
            i += 1
        # Stacks are read one after the other: put the round's events back in time order.
        return [event for _, event in sorted(new, key=lambda pair: pair[0])]

    def failure_lines(self) -> list[str]:
        return [
            f"{e.stack_name} {e.logical_id} ({e.resource_type}): {e.status}: {e.reason}"
            for e in self.failures
        ]


def in_progress_operation(cfn: Any, root_id: str) -> tuple[str, dt.datetime | None] | None:
    """(token, start) of the operation under way on the root stack; None without a token.

    The root's newest events are the operation's; its start is the oldest event in a row that
    carries the same token.
    """
    token: str | None = None
    start: dt.datetime | None = None
    paginator = cfn.get_paginator("describe_stack_events")
    for page in paginator.paginate(StackName=root_id):
        for raw in page.get("StackEvents", []):
            if token is None:
                token = raw.get("ClientRequestToken")
                if not token:
                    return None
            if raw.get("ClientRequestToken") != token:
                return token, start
            start = raw["Timestamp"]
    return (token, start) if token else None


def _final(status: str) -> bool:
    return not status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS"


def succeeded(status: str) -> bool:
    return status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")


def settled(cfn: Any, stack_id: str) -> str | None:
    """The stack's status once it is no longer in progress; None while it is."""
    status = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
    return status if _final(status) else None


def follow(
    op: Operation,
    *,
    on_event: Callable[[Event], None],
    sleep: Callable[[float], None] = time.sleep,
    timeout: float = 3 * 60 * 60,
) -> str:
    """Report the operation's events until the root settles; its status, or DeploymentFailed.

    Each round reads the status first and the events after, so that the round which sees the
    stack settled has also read every event (in every stack) up to that point.
    """
    started = time.monotonic()
    delays = iter(POLL_DELAYS)
    while True:
        status = settled(op.cfn, op.root_id)
        for event in op.poll():
            on_event(event)
        if status:
            if succeeded(status):
                return status
            raise DeploymentFailed(
                f"the deployment failed: the stack is {status}",
                op.failure_lines() or ["no resource reported a failure; see the console"],
            )
        if time.monotonic() - started > timeout:
            raise DeployError(f"stopped following after {int(timeout)} s; the stack is in progress")
        sleep(next(delays, POLL_DELAYS[-1]))
