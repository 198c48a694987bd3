"""Architecture diagrams as Mermaid flowcharts: each environment's resources and how they
reference each other, drawn from the rendered templates in pure Python.

Edges are the references CloudFormation itself resolves: `Ref`, `Fn::GetAtt`, the `${Name}`
and `${Name.Attr}` of `Fn::Sub`, and `DependsOn`, from the resource that uses them to the
resource they name. Each template of the environment (not the bootstrap stack, deployed on its
own) is one subgraph; the root's nested-stack resources lead to their template's subgraph.

Mermaid is text that GitHub and GitLab draw in Markdown, so the diagrams are regenerated and
checked (`bin/build-templates`, `--check`) with nothing installed beyond the project. The text
is deterministic: nodes and edges sorted, no timestamps.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from cfn import naming

if TYPE_CHECKING:
    from cfn.render import RenderedTemplate

_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}")
_ARROW = {"Ref": "-->", "GetAtt": "==>", "Sub": "-->", "DependsOn": "-.->"}


def _names(value: Any) -> Iterator[tuple[str, str]]:
    """(kind, logical id) of every reference inside a property value."""
    if isinstance(value, list):
        for item in value:
            yield from _names(item)
    elif isinstance(value, dict):
        if set(value) == {"Ref"} and isinstance(value["Ref"], str):
            yield "Ref", value["Ref"]
            return
        if set(value) == {"Fn::GetAtt"}:
            target = value["Fn::GetAtt"]
            name = target[0] if isinstance(target, list) else str(target).split(".")[0]
            yield "GetAtt", name
            return
        if set(value) == {"Fn::Sub"}:
            body = value["Fn::Sub"]
            text, local = (body[0], body[1]) if isinstance(body, list) else (body, {})
            for name in _SUB_NAME.findall(text if isinstance(text, str) else ""):
                if name not in local:
                    yield "Sub", name
            yield from _names(local)
            return
        for item in value.values():
            yield from _names(item)


def references(template: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(source, target, kind) for every reference between resources of one template."""
    resources = template.get("Resources", {})
    edges: set[tuple[str, str, str]] = set()
    for source, body in resources.items():
        depends = body.get("DependsOn", [])
        for target in [depends] if isinstance(depends, str) else depends:
            edges.add((source, target, "DependsOn"))
        for key in ("Properties", "Metadata", "Condition"):
            for kind, target in _names(body.get(key, {})):
                if target in resources and target != source:
                    edges.add((source, target, kind))
    return edges


def _id(*parts: str) -> str:
    """A Mermaid node id (letters, digits, underscores) for a name."""
    return "_".join(re.sub(r"[^A-Za-z0-9]", "_", p) for p in parts)


def _label(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def _stack_name(filename: str) -> str:
    return "root" if filename == naming.ROOT_TEMPLATE else filename.removesuffix(".json")


def flowchart(templates: Sequence[RenderedTemplate]) -> str:
    """One Mermaid flowchart of the environment's deployed templates."""
    parts = sorted(
        (t for t in templates if t.filename != naming.BOOTSTRAP_TEMPLATE),
        key=lambda t: (t.filename != naming.ROOT_TEMPLATE, t.filename),
    )
    lines = ["flowchart LR"]
    edges: list[str] = []
    stacks = {_stack_name(t.filename) for t in parts}
    for t in parts:
        stack = _stack_name(t.filename)
        data = json.loads(t.text)
        lines.append(f"  subgraph {_id('stack', stack)}[{_label(f'{stack} ({t.filename})')}]")
        for logical_id, body in sorted(data.get("Resources", {}).items()):
            rtype = body.get("Type", "")
            lines.append(f"    {_id(stack, logical_id)}[{_label(f'{logical_id}<br/>{rtype}')}]")
            nested = naming.template_file(logical_id).removesuffix(".json")
            if rtype == "AWS::CloudFormation::Stack" and nested in stacks:
                edges.append(f"  {_id(stack, logical_id)} -.->|template| {_id('stack', nested)}")
        lines.append("  end")
        for source, target, kind in sorted(references(data)):
            edges.append(f"  {_id(stack, source)} {_ARROW[kind]}|{kind}| {_id(stack, target)}")
    return "\n".join([*lines, *sorted(edges)]) + "\n"


def overview(root: RenderedTemplate) -> str:
    """The environment's parts (the root's nested stacks) and which feeds which."""
    data = json.loads(root.text)
    stacks = {
        logical_id
        for logical_id, body in data.get("Resources", {}).items()
        if body.get("Type") == "AWS::CloudFormation::Stack"
    }
    lines = ["flowchart LR"]
    for logical_id in sorted(stacks):
        filename = naming.template_file(logical_id)
        lines.append(f"  {_id(logical_id)}[{_label(f'{logical_id}<br/>{filename}')}]")
    # An arrow from the part that provides an output to the part whose parameter takes it.
    pairs = {(t, s) for s, t, _ in references(data) if s in stacks and t in stacks}
    lines += [f"  {_id(a)} --> {_id(b)}" for a, b in sorted(pairs)]
    return "\n".join(lines) + "\n"
