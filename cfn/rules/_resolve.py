"""Helpers shared by the project's cfn-lint rules (not a rule: cfn-lint skips `_` files).

`resolve` turns a template value into the text CloudFormation would compute where the template
alone says what it is (literals, `Ref` to a parameter with a default, `Fn::Sub`, `Fn::Join`),
and into None where it cannot know (a pseudo parameter, a parameter without a default, an
attribute of a resource). Rules stay silent on None: they report only what they can prove.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

UNKNOWN = "\x00"
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


def partial(template: dict[str, Any], value: Any) -> str | None:
    """The value as text with every unknowable part replaced by `UNKNOWN`; None if not text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, dict) or len(value) != 1:
        return None
    ((fn, arg),) = value.items()
    if fn == "Ref":
        return _parameter_default(template, arg)
    if fn == "Fn::Sub":
        if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict):
            text, variables = arg
        else:
            text, variables = arg, {}
        if not isinstance(text, str):
            return None

        def repl(m: re.Match[str]) -> str:
            name = m.group(1)
            if name in variables:
                v = partial(template, variables[name])
                return UNKNOWN if v is None else v
            if "." in name:  # Resource.Attribute
                return UNKNOWN
            return _parameter_default(template, name)

        return _SUB_VAR.sub(repl, text).replace("${!", "${")
    if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
        delimiter = arg[0] if isinstance(arg[0], str) else None
        if delimiter is None:
            return None
        parts = [partial(template, v) for v in arg[1]]
        return delimiter.join(UNKNOWN if p is None else p for p in parts)
    return UNKNOWN


def resolve(template: dict[str, Any], value: Any) -> str | None:
    """The value's text when the template alone determines it, else None."""
    text = partial(template, value)
    if text is None or UNKNOWN in text:
        return None
    return text


def _parameter_default(template: dict[str, Any], name: Any) -> str:
    if not isinstance(name, str) or name.startswith("AWS::"):
        return UNKNOWN
    params = template.get("Parameters") or {}
    param = params.get(name)
    if not isinstance(param, dict) or "Default" not in param:
        return UNKNOWN
    default = param["Default"]
    return str(default) if isinstance(default, str | int | float) else UNKNOWN


def resources(template: dict[str, Any], *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, properties) of every resource of the given types."""
    for name, res in (template.get("Resources") or {}).items():
        if isinstance(res, dict) and res.get("Type") in types:
            props = res.get("Properties")
            yield name, props if isinstance(props, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def serialised_size(template: dict[str, Any]) -> int:
    """Bytes of the template as JSON with two-space indents (the way it is uploaded here):
    `len(json.dumps(template, indent=2, sort_keys=True, default=str).encode())`, without
    making that text. With `indent`, `json` uses its pure-Python encoder (a few ms per
    template, paid by two rules); without, its C encoder, with the same separators, writes the
    same text but for the line breaks and indents, which `_layout` counts (the two rules that
    ask, ask about the same template one after the other: the count is kept for the same text)."""
    compact = json.dumps(template, sort_keys=True, default=str, separators=(",", ": "))
    if _last_layout[0] != compact:
        _last_layout[:] = [compact, _layout(template, 0)]
    return len(compact.encode()) + _last_layout[1]


_last_layout: list[Any] = ["", 0]  # a compact dump, and what indent=2 adds to it


def _layout(value: Any, depth: int) -> int:
    """Bytes `indent=2` adds to a compact dump of `value` at `depth`: before each element of a
    non-empty object or array a line break and its indent, before its closing bracket a line
    break and the indent of its opening line."""
    if isinstance(value, dict):
        items: Any = value.values()
    elif isinstance(value, list | tuple):
        items = value
    else:
        return 0
    if not items:
        return 0
    added = len(items) * (2 * depth + 3) + 2 * depth + 1
    for item in items:
        if isinstance(item, dict | list | tuple):
            added += _layout(item, depth + 1)
    return added


# Where IAM policy documents (permissions, not trust) live, per resource type.
_POLICY_LISTS = {
    "AWS::IAM::Role": "Policies",
    "AWS::IAM::User": "Policies",
    "AWS::IAM::Group": "Policies",
}
_POLICY_DOCS = {
    "AWS::IAM::Policy": "PolicyDocument",
    "AWS::IAM::ManagedPolicy": "PolicyDocument",
    "AWS::IAM::RolePolicy": "PolicyDocument",
    "AWS::IAM::UserPolicy": "PolicyDocument",
    "AWS::IAM::GroupPolicy": "PolicyDocument",
}


def permission_statements(
    template: dict[str, Any],
) -> Iterator[tuple[list[Any], dict[str, Any]]]:
    """(path, statement) of every statement of every IAM permissions policy in the template."""
    for name, res in (template.get("Resources") or {}).items():
        if not isinstance(res, dict):
            continue
        props = res.get("Properties")
        if not isinstance(props, dict):
            continue
        docs: list[tuple[list[Any], Any]] = []
        rtype = res.get("Type")
        if rtype in _POLICY_LISTS:
            for i, p in enumerate(as_list(props.get(_POLICY_LISTS[rtype]) or [])):
                if isinstance(p, dict):
                    docs.append(
                        (
                            ["Resources", name, "Properties", "Policies", i, "PolicyDocument"],
                            p.get("PolicyDocument"),
                        )
                    )
        elif rtype in _POLICY_DOCS:
            docs.append(
                (["Resources", name, "Properties", "PolicyDocument"], props.get("PolicyDocument"))
            )
        for path, doc in docs:
            if not isinstance(doc, dict):
                continue
            for j, stmt in enumerate(as_list(doc.get("Statement") or [])):
                if isinstance(stmt, dict):
                    yield [*path, "Statement", j], stmt


# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
BODY_LIMIT = 51_200  # bytes, template passed inline (TemplateBody)
S3_LIMIT = 1_000_000  # bytes, template passed through S3 (TemplateURL)
COUNT_LIMITS = {"Resources": 500, "Parameters": 200, "Outputs": 200}


def template_size(cfn: Any) -> int:
    """Bytes of the template file when linting a file, else of its JSON serialisation."""
    filename = getattr(cfn, "filename", None)
    if filename and os.path.isfile(filename):
        return os.path.getsize(filename)
    return serialised_size(cfn.template)


def project_metadata(template: dict[str, Any]) -> dict[str, Any]:
    """The template's `Metadata.InsightXI` (the environment's settings), or {}."""
    metadata = template.get("Metadata")
    found = metadata.get("InsightXI") if isinstance(metadata, dict) else None
    return found if isinstance(found, dict) else {}


def opted_out(template: dict[str, Any], part: str) -> bool:
    """Whether the template records an opt-out of `part` with a reason (`OptOuts.<part>`): an
    explicit, explained choice is not a finding; a missing reason is not an opt-out."""
    opt_outs = project_metadata(template).get("OptOuts")
    reason = opt_outs.get(part) if isinstance(opt_outs, dict) else None
    return isinstance(reason, str) and bool(reason.strip())
