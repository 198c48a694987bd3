"""The review as text for the terminal and as Markdown for a pull request.

Order: drift status, parameter changes (image tags first), security broadenings, risky changes,
every change by stack with its meaning and property paths (before → after, cause, recreation),
Dynamic no-ops, drift the change set does not touch, summary. A long value is summarised (its
changed JSON leaves, or its length and hash), never cut in the middle of a token.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cfn.deploy.review import KNOWN_AFTER_APPLY, NO_OP, ROUTINE, Change, Detail, Review

MAX_VALUE = 100
MAX_LEAVES = 4
_SYMBOL = {"Add": "+", "Modify": "~", "Remove": "-", "Import": ">", "Dynamic": "?"}


def value(v: str | None) -> str:
    if v is None:
        return "∅"
    if KNOWN_AFTER_APPLY in v:
        return "(known after apply)"
    if len(v) <= MAX_VALUE and "\n" not in v:
        return v
    return f"({len(v)} characters, sha256 {hashlib.sha256(v.encode()).hexdigest()[:12]})"


def _leaves(data: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(data, dict):
        return {
            k: v for key, item in data.items() for k, v in _leaves(item, f"{prefix}/{key}").items()
        }
    if isinstance(data, list):
        return {
            k: v for i, item in enumerate(data) for k, v in _leaves(item, f"{prefix}/{i}").items()
        }
    return {prefix or "/": json.dumps(data) if not isinstance(data, str) else data}


def pair(before: str | None, after: str | None) -> str:
    """`before → after`; two long JSON values as the leaves that differ."""
    long = any(v is not None and value(v) != v for v in (before, after))
    if long and before is not None and after is not None:
        try:
            old, new = _leaves(json.loads(before)), _leaves(json.loads(after))
        except ValueError:
            old = new = {}
        changed = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        if changed:
            shown = [
                f"{k}: {value(old.get(k))} → {value(new.get(k))}" for k in changed[:MAX_LEAVES]
            ]
            more = len(changed) - MAX_LEAVES
            return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
    return f"{value(before)} → {value(after)}"


def detail_text(d: Detail) -> str:
    text = d.path
    if d.before is not None or d.after is not None:
        text += ": " + pair(d.before, d.after)
    why = [d.source] if d.source else []
    if d.cause:
        why = [f"{d.source} {d.cause}".strip()]
    if d.evaluation == "Dynamic":
        why.append("Dynamic")
    if d.replaces:
        why.append(f"requires recreation: {d.recreation}")
    return text + (f" ({'; '.join(why)})" if why else "")


def _head(c: Change, name: str) -> str:
    label = "" if c.risk in (ROUTINE, NO_OP) else f"  [{c.risk}]"
    if any(d.startswith("overwrites") for d in c.drift):
        label += "  [overwrites drift]"
    replaced = {"True": "  replaced", "Conditional": "  may be replaced"}.get(c.replacement, "")
    symbol = _SYMBOL.get(c.action, "?")
    return f"{symbol} {c.action:<7} {name:<36} {c.resource_type}{replaced}{label}"


def _details(c: Change) -> list[str]:
    return [detail_text(d) for d in c.details if not d.no_op] + [f"! {s}" for s in c.drift]


def _body(c: Change) -> list[str]:
    return ([f"= {c.why}"] if c.why else []) + _details(c)


def summary(review: Review) -> str:
    n = review.counts
    text = (
        f"{n['add']} to add, {n['modify']} to modify ({n['replace']} replaced), "
        f"{n['remove']} to remove, in {n['stacks']} stack(s)"
    )
    return text + (f"; {n['no_op']} Dynamic no-op(s)" if n["no_op"] else "")


def _param(p: Any) -> str:
    where = f"{p.stack}: " if p.stack else ""
    return f"{where}{p.name}: {value(p.before)} → {value(p.after)}"


def _causes(c: Change) -> str:
    return ", ".join(dict.fromkeys(d.cause or d.path for d in c.details)) or "no detail"


def to_text(review: Review) -> str:
    mode = f", {review.deployment_mode}" if review.deployment_mode else ""
    lines = [
        f"Change set {review.change_set_name} ({review.change_set_type or 'UPDATE'}{mode}) "
        f"for stack {review.stack_name} in {review.region}",
    ]
    if review.drift is not None:
        lines.append(review.drift.line())
    lines += review.safety
    lines.append("")
    if review.parameters:
        lines += ["Parameters:", *(f"    {_param(p)}" for p in review.parameters), ""]
    if review.broadening:
        lines.append(
            f"SECURITY: broadens access ({len(review.broadening)}); execute asks for explicit "
            "confirmation:"
        )
        lines += [f"  ! {b}" for b in review.broadening] + [""]
    if review.risky:
        lines.append(f"RISKY CHANGES ({len(review.risky)}), review these first:")
        for c in review.risky:
            lines += ["  ! " + _head(c, c.where), f"        {c.why}"]
        lines.append("")
    by_stack: dict[str, list[Change]] = {}
    for c in review.real:
        by_stack.setdefault(c.stack or "(root)", []).append(c)
    for stack in sorted(by_stack, key=lambda s: (s != "(root)", s)):
        lines.append(f"Stack {stack}:")
        for c in sorted(by_stack[stack], key=lambda c: (c.rank, c.logical_id)):
            lines.append("    " + _head(c, c.logical_id))
            lines += [f"        {b}" for b in _body(c)]
        lines.append("")
    if review.no_ops:
        lines.append(f"No-op: Dynamic evaluations that change nothing ({len(review.no_ops)}):")
        lines += [f"    {c.where} ({c.resource_type}): {_causes(c)}" for c in review.no_ops]
        lines.append("")
    if review.untouched_drift:
        lines.append(f"Drifted, not touched by this change set ({len(review.untouched_drift)}):")
        lines += [
            f"    {d.where} ({d.resource_type}): {d.summary()}" for d in review.untouched_drift
        ]
        lines.append("")
    lines.append("Summary: " + summary(review))
    lines.append(f"Console: {review.console_url}")
    if review.plan_file:
        lines.append(f"Plan file: {review.plan_file}")
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_sections(review: Review) -> list[str]:
    lines: list[str] = []
    if review.parameters:
        lines += [
            "#### Parameters",
            "",
            "| stack | parameter | before | after |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {p.stack or '(root)'} | `{p.name}` | {_md(value(p.before))} | "
            f"{_md(value(p.after))} |"
            for p in review.parameters
        ]
        lines.append("")
    if review.broadening:
        lines += [f"#### 🔓 Security: broadens access ({len(review.broadening)})", ""]
        lines += ["Execute asks for explicit confirmation.", ""]
        lines += [f"- {_md(b)}" for b in review.broadening] + [""]
    if review.risky:
        lines += [f"#### ⚠️ Risky changes ({len(review.risky)})", ""]
        lines += [
            f"- **{c.action}** `{c.where}` ({c.resource_type}): {_md(c.why)}" for c in review.risky
        ]
        lines.append("")
    return lines


def to_markdown(review: Review) -> str:
    lines = [
        f"### Change set for `{review.stack_name}` ({review.region})",
        "",
        f"**{summary(review)}.** [Open in the CloudFormation console]({review.console_url})",
        "",
    ]
    if review.drift is not None:
        lines += [f"_{review.drift.line()}_", ""]
    if review.safety:
        lines += ["```", *review.safety, "```", ""]
    lines += _md_sections(review)
    lines += [
        "#### Changes",
        "",
        "| stack | action | logical id | type | risk | what | details |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in sorted(review.real, key=lambda c: (c.stack, c.rank, c.logical_id)):
        details = "<br>".join(_md(b) for b in _details(c))
        lines.append(
            f"| {c.stack or '(root)'} | {c.action} | `{c.logical_id}` | {c.resource_type} | "
            f"{c.risk} | {_md(c.why)} | {details} |"
        )
    lines.append("")
    if review.no_ops:
        lines += [f"#### No-op: Dynamic evaluations that change nothing ({len(review.no_ops)})", ""]
        lines += [f"- `{c.where}` ({c.resource_type}): {_md(_causes(c))}" for c in review.no_ops]
        lines.append("")
    if review.untouched_drift:
        lines += [
            f"#### Drifted, not touched by this change set ({len(review.untouched_drift)})",
            "",
        ]
        lines += [
            f"- `{d.where}` ({d.resource_type}): {_md(d.summary())}" for d in review.untouched_drift
        ]
        lines.append("")
    lines.append(f"Change set: `{review.change_set_name}`")
    return "\n".join(lines) + "\n"
