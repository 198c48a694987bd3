"""Change-set hygiene: the change sets of one environment's root stack, and deleting the old
ones nobody executed.

`ListChangeSets` is filtered here by stack name or id, and nested change sets (those with a
parent) are left out: deleting a root change set deletes its nested ones with it. Some emulators
ignore `StackName` and return every stack's change sets, so the filter is not optional.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from cfn import naming
from cfn.config import Environment
from cfn.deploy import changesets
from cfn.deploy.timeutil import iso, now


@dataclass(frozen=True)
class ChangeSet:
    name: str
    id: str
    status: str
    execution_status: str
    created: str | None
    description: str
    reason: str

    @property
    def waiting(self) -> bool:
        """Ready for review or execution."""
        return self.status == "CREATE_COMPLETE" and self.execution_status == "AVAILABLE"

    @property
    def unexecuted(self) -> bool:
        """Waiting, or failed to create: never executed, nothing but clutter once old."""
        return self.waiting or self.status == "FAILED"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def root_change_sets(cfn: Any, stack: str) -> list[ChangeSet]:
    """Every change set of the root stack `stack` (not its nested ones), oldest first."""
    out: list[tuple[datetime | None, ChangeSet]] = []
    try:
        summaries = [
            s
            for page in changesets.pages(cfn.list_change_sets, StackName=stack)
            for s in page.get("Summaries", [])
        ]
    except Exception as exc:
        if "does not exist" in str(exc):
            return []
        raise
    for s in summaries:
        if s.get("StackName") != stack or s.get("ParentChangeSetId"):
            continue
        created = s.get("CreationTime")
        out.append(
            (
                created,
                ChangeSet(
                    name=s.get("ChangeSetName", ""),
                    id=s.get("ChangeSetId", ""),
                    status=s.get("Status", ""),
                    execution_status=s.get("ExecutionStatus", ""),
                    created=iso(created),
                    description=s.get("Description", "") or "",
                    reason=s.get("StatusReason", "") or "",
                ),
            )
        )
    out.sort(key=lambda pair: pair[1].created or "")
    return [c for _, c in out]


def waiting(cfn: Any, stack: str) -> list[ChangeSet]:
    return [c for c in root_change_sets(cfn, stack) if c.waiting]


@dataclass(frozen=True)
class CleanupResult:
    stack: str
    older_than: str
    deleted: list[ChangeSet]
    kept: list[ChangeSet]

    def to_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "older_than": self.older_than,
            "deleted": [c.to_dict() for c in self.deleted],
            "kept": [c.to_dict() for c in self.kept],
        }


def run(cfn: Any, env: Environment, older_than: timedelta, label: str) -> CleanupResult:
    """Delete the root stack's unexecuted change sets created more than `older_than` ago."""
    stack = naming.root_stack(env)
    cutoff = iso(now() - older_than) or ""
    deleted, kept = [], []
    for change_set in root_change_sets(cfn, stack):
        if not change_set.unexecuted:
            continue
        if (change_set.created or "") <= cutoff:
            cfn.delete_change_set(ChangeSetName=change_set.id)
            deleted.append(change_set)
        else:
            kept.append(change_set)
    return CleanupResult(stack, label, deleted, kept)


def to_text(result: CleanupResult, env: Environment) -> str:
    lines = [
        f"deleted {len(result.deleted)} change set(s) of {result.stack} older than "
        f"{result.older_than}" + (":" if result.deleted else "")
    ]
    lines += [f"  {c.name}  created {c.created}  ({_state(c)})" for c in result.deleted]
    if result.kept:
        lines.append(f"kept {len(result.kept)} newer one(s):")
        lines += [f"  {c.name}  created {c.created}  ({_state(c)})" for c in result.kept]
    if result.deleted:
        lines.append(
            f"plan files for them no longer execute: plan again (bin/deploy plan --env {env.name})"
        )
    return "\n".join(lines)


def _state(c: ChangeSet) -> str:
    return "waiting" if c.waiting else f"failed: {c.reason}" if c.reason else "failed"
