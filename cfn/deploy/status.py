"""`status`: where an environment's root stack stands: status, last update, outputs (the URL),
and change sets waiting for review or execution."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cfn import naming
from cfn.config import Environment
from cfn.deploy import changesets


@dataclass
class Status:
    stack: str
    exists: bool
    status: str | None = None
    last_updated: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    pending_change_sets: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run(cfn: Any, env: Environment) -> Status:
    stack = naming.root_stack(env)
    state = changesets.stack_state(cfn, stack)
    if not state.exists:
        return Status(stack, exists=False)
    pending = [
        {
            "name": s.get("ChangeSetName", ""),
            "id": s.get("ChangeSetId", ""),
            "created": str(s.get("CreationTime", "")),
            "description": s.get("Description", "") or "",
        }
        for page in changesets.pages(cfn.list_change_sets, StackName=stack)
        for s in page.get("Summaries", [])
        if s.get("ExecutionStatus") == "AVAILABLE"
    ]
    return Status(
        stack=stack,
        exists=True,
        status=state.status,
        last_updated=state.last_updated,
        outputs=dict(sorted(state.outputs.items())),
        pending_change_sets=pending,
    )


def to_text(s: Status, env: Environment) -> str:
    if not s.exists:
        return (
            f"stack {s.stack} does not exist: bootstrap, plan and execute it "
            f"(bin/deploy plan --env {env.name})"
        )
    lines = [f"stack {s.stack}: {s.status} (last change {s.last_updated})"]
    if "LoadBalancerUrl" in s.outputs:
        lines.append(f"URL: {s.outputs['LoadBalancerUrl']}")
    if s.outputs:
        lines.append("outputs:")
        lines += [f"  {k} = {v}" for k, v in s.outputs.items()]
    if s.pending_change_sets:
        lines.append(f"change sets waiting ({len(s.pending_change_sets)}):")
        lines += [f"  {c['name']}  created {c['created']}" for c in s.pending_change_sets]
    else:
        lines.append("no change set waiting")
    return "\n".join(lines)
