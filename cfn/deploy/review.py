"""The review of a change set: what is added, modified, removed and replaced, risky first.

Built from `describe_change_set` output (the root's and each nested change set's); rendered as
text for the terminal, Markdown for a pull request, or a dict for `--output json`. A change is
risky when it replaces or removes a resource, or touches IAM or security groups; risky changes
are listed first and marked.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from cfn.deploy.changesets import DescribedChangeSet

_IAM = ("AWS::IAM::",)
_NETWORK_SECURITY = ("AWS::EC2::SecurityGroup",)
_MAX_VALUE = 200


@dataclass
class Change:
    stack: str  # "" for the root, else the nested stack's logical id path
    action: str
    logical_id: str
    resource_type: str
    replacement: str  # "True", "Conditional", "False" or "" (not applicable)
    physical_id: str = ""
    details: list[str] = field(default_factory=list)
    risks: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.stack}/{self.logical_id}" if self.stack else self.logical_id

    @property
    def rank(self) -> int:
        if self.replacement == "True":
            return 0
        if self.action == "Remove":
            return 1
        if self.replacement == "Conditional":
            return 2
        if self.risks:
            return 3
        return 9


@dataclass
class Review:
    stack_name: str
    change_set_name: str
    change_set_id: str
    change_set_type: str
    region: str
    stack_id: str
    changes: list[Change]
    plan_file: str = ""

    @property
    def console_url(self) -> str:
        r = self.region
        return (
            f"https://{r}.console.aws.amazon.com/cloudformation/home?region={r}#/stacks/"
            f"changesets/changes?stackId={quote(self.stack_id, safe='')}"
            f"&changeSetId={quote(self.change_set_id, safe='')}"
        )

    @property
    def risky(self) -> list[Change]:
        return sorted((c for c in self.changes if c.rank < 9), key=lambda c: (c.rank, c.where))

    @property
    def counts(self) -> dict[str, int]:
        count = {"add": 0, "modify": 0, "remove": 0, "replace": 0}
        for c in self.changes:
            key = {"Add": "add", "Modify": "modify", "Remove": "remove"}.get(c.action)
            if key:
                count[key] += 1
            if c.replacement == "True":
                count["replace"] += 1
        count["stacks"] = len({c.stack for c in self.changes})
        return count

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["console_url"] = self.console_url
        d["counts"] = self.counts
        return d


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


def _detail(d: dict[str, Any]) -> str:
    target = d.get("Target", {})
    name = ".".join(x for x in (target.get("Attribute"), target.get("Name")) if x)
    text = name or "(resource)"
    recreation = target.get("RequiresRecreation")
    if recreation and recreation != "Never":
        text += f" [recreation: {recreation}]"
    before, after = target.get("BeforeValue"), target.get("AfterValue")
    if before is not None or after is not None:
        text += f": {_short(before) if before is not None else '∅'} → "
        text += _short(after) if after is not None else "∅"
    cause = d.get("CausingEntity") or d.get("ChangeSource")
    if cause and d.get("ChangeSource") != "DirectModification":
        text += f" (because of {cause})"
    return text


def from_described(tree: DescribedChangeSet, region: str, plan_file: str = "") -> Review:
    root = tree.description
    changes: list[Change] = []
    for node in tree.walk():
        for item in node.description.get("Changes", []):
            rc = item.get("ResourceChange")
            if not rc:
                continue
            rtype = rc.get("ResourceType", "")
            change = Change(
                stack=node.stack_path,
                action=rc.get("Action", ""),
                logical_id=rc.get("LogicalResourceId", ""),
                resource_type=rtype,
                replacement=rc.get("Replacement", "") or "",
                physical_id=rc.get("PhysicalResourceId", "") or "",
                details=[_detail(d) for d in rc.get("Details", [])],
            )
            if change.replacement == "True":
                change.risks.append("replacement")
            elif change.replacement == "Conditional":
                change.risks.append("may replace")
            if change.action == "Remove":
                change.risks.append("removal")
            if rtype.startswith(_IAM):
                change.risks.append("IAM")
            if rtype.startswith(_NETWORK_SECURITY):
                change.risks.append("security group")
            changes.append(change)
    return Review(
        stack_name=root.get("StackName", ""),
        change_set_name=root.get("ChangeSetName", ""),
        change_set_id=root.get("ChangeSetId", ""),
        change_set_type=root.get("ChangeSetType", "") or "",
        region=region,
        stack_id=root.get("StackId", ""),
        changes=changes,
        plan_file=plan_file,
    )


_SYMBOL = {"Add": "+", "Modify": "~", "Remove": "-", "Import": ">", "Dynamic": "?"}


def _line(c: Change) -> str:
    replacement = (
        f"  replacement: {c.replacement}" if c.replacement in ("True", "Conditional") else ""
    )
    risks = f"  [{', '.join(c.risks)}]" if c.risks else ""
    symbol = _SYMBOL.get(c.action, "?")
    return f"{symbol} {c.action:<7} {c.where:<48} {c.resource_type}{replacement}{risks}"


def _summary(review: Review) -> str:
    n = review.counts
    return (
        f"{n['add']} to add, {n['modify']} to modify ({n['replace']} replaced), "
        f"{n['remove']} to remove, in {n['stacks']} stack(s)"
    )


def to_text(review: Review) -> str:
    lines = [
        f"Change set {review.change_set_name} ({review.change_set_type or 'UPDATE'}) "
        f"for stack {review.stack_name} in {review.region}",
        "",
    ]
    risky = review.risky
    if risky:
        lines.append(f"RISKY CHANGES ({len(risky)}), review these first:")
        for c in risky:
            lines.append("  ! " + _line(c))
            lines += [f"        {d}" for d in c.details]
        lines.append("")
    by_stack: dict[str, list[Change]] = {}
    for c in review.changes:
        by_stack.setdefault(c.stack or "(root)", []).append(c)
    for stack in sorted(by_stack, key=lambda s: (s != "(root)", s)):
        lines.append(f"Stack {stack}:")
        for c in sorted(by_stack[stack], key=lambda c: (c.rank, c.logical_id)):
            lines.append("    " + _line(c))
            lines += [f"        {d}" for d in c.details]
        lines.append("")
    lines.append("Summary: " + _summary(review))
    lines.append(f"Console: {review.console_url}")
    if review.plan_file:
        lines.append(f"Plan file: {review.plan_file}")
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(review: Review) -> str:
    lines = [
        f"### Change set for `{review.stack_name}` ({review.region})",
        "",
        f"**{_summary(review)}.** [Open in the CloudFormation console]({review.console_url})",
        "",
    ]
    risky = review.risky
    if risky:
        lines += [f"#### ⚠️ Risky changes ({len(risky)})", ""]
        lines += [
            f"- **{c.action}** `{c.where}` ({c.resource_type}): {', '.join(c.risks)}" for c in risky
        ]
        lines.append("")
    lines += [
        "| stack | action | logical id | type | replacement | details |",
        "|---|---|---|---|---|---|",
    ]
    for c in sorted(review.changes, key=lambda c: (c.stack, c.rank, c.logical_id)):
        details = "<br>".join(_md(d) for d in c.details)
        lines.append(
            f"| {c.stack or '(root)'} | {c.action} | `{c.logical_id}` | {c.resource_type} | "
            f"{c.replacement or ''} | {details} |"
        )
    lines.append("")
    lines.append(f"Change set: `{review.change_set_name}`")
    return "\n".join(lines) + "\n"
