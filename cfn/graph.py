"""Architecture diagrams: each environment's resources and how they reference each other.

Built from cfn-lint's own template graph (`cfnlint.graph.Graph`: resources as nodes; Ref,
Fn::GetAtt, Fn::Sub and DependsOn as edges) for every template of the environment, drawn as one
Graphviz DOT document with a cluster per nested stack. The root's cluster holds the nested-stack
resources, so its edges are the nested-stack parameters (one part's outputs feeding the next);
a dashed edge leads from each of them to its own cluster.

The DOT text is deterministic (sorted nodes and edges). An SVG is drawn from it when Graphviz's
`dot` is installed; it records the SHA-256 of the DOT it was drawn from, so `--check` can tell
whether a committed SVG is current without Graphviz.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from cfn import naming
from cfn.render import RenderedTemplate

SOURCE_MARK = "insightxi-dot-sha256:"
_COLORS = {"Ref": "black", "GetAtt": "green", "Sub": "blue", "DependsOn": "gray40"}


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _cluster_of(filename: str) -> str:
    return "root" if filename == naming.ROOT_TEMPLATE else filename.removesuffix(".json")


def to_dot(env_name: str, templates: Sequence[RenderedTemplate]) -> str:
    """One DOT document for the environment's deployed templates (not the bootstrap stack)."""
    from cfnlint.graph import Graph
    from cfnlint.template import Template

    parts = [t for t in templates if t.filename != naming.BOOTSTRAP_TEMPLATE]
    lines = [
        f"digraph {_q(f'insightxi-{env_name}')} {{",
        "  compound=true;",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=8];',
    ]
    edges: set[tuple[str, str, str]] = set()
    first_node: dict[str, str] = {}
    nested_ids: dict[str, str] = {}
    for t in sorted(parts, key=lambda p: (p.filename != naming.ROOT_TEMPLATE, p.filename)):
        cluster = _cluster_of(t.filename)
        g = Graph(Template(t.filename, json.loads(t.text), [t.region])).graph
        resources = sorted(n for n, a in g.nodes(data=True) if a.get("type") == "Resource")
        lines.append(f"  subgraph {_q('cluster_' + cluster)} {{")
        lines.append(f"    label={_q(f'{cluster} ({t.filename})')};")
        for node in resources:
            rtype = g.nodes[node].get("resource_type", "")
            node_id = f"{cluster}/{node}"
            first_node.setdefault(cluster, node_id)
            if rtype == "AWS::CloudFormation::Stack":
                nested_ids[node] = node_id
            lines.append(f'    {_q(node_id)} [label="{node}\\n{rtype}"];')
        lines.append("  }")
        for source, target, data in g.edges(data=True):
            if source in resources and target in resources:
                edges.add((f"{cluster}/{source}", f"{cluster}/{target}", data.get("label", "")))
    for source, target, label in sorted(edges):
        color = _COLORS.get(label, "black")
        lines.append(f"  {_q(source)} -> {_q(target)} [label={_q(label)}, color={color}];")
    for logical_id, node_id in sorted(nested_ids.items()):
        cluster = naming.template_file(logical_id).removesuffix(".json")
        if cluster in first_node:
            lines.append(
                f"  {_q(node_id)} -> {_q(first_node[cluster])} "
                f'[lhead={_q("cluster_" + cluster)}, style=dashed, label="template"];'
            )
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_sha(dot: str) -> str:
    return hashlib.sha256(dot.encode()).hexdigest()


def to_svg(dot: str) -> str | None:
    """The SVG Graphviz draws, marked with the DOT's hash; None without Graphviz."""
    exe = shutil.which("dot")
    if exe is None:
        return None
    svg = subprocess.run(
        [exe, "-Tsvg"], input=dot, capture_output=True, text=True, check=True
    ).stdout
    # Graphviz's own comment names its version; ours names the source, for --check.
    return re.sub(r"(<svg\b)", f"<!-- {SOURCE_MARK}{dot_sha(dot)} -->\n\\1", svg, count=1)


def svg_source(svg_text: str) -> str | None:
    m = re.search(re.escape(SOURCE_MARK) + r"([0-9a-f]{64})", svg_text)
    return m.group(1) if m else None


def check(docs_dir: Path, env_name: str, dot: str) -> list[str]:
    """Problems with the committed diagram of one environment (none if current)."""
    problems = []
    dot_path, svg_path = docs_dir / f"{env_name}.dot", docs_dir / f"{env_name}.svg"
    if not dot_path.is_file():
        return [f"{dot_path}: missing (run bin/build-templates --graph)"]
    if dot_path.read_text(encoding="utf-8") != dot:
        problems.append(f"{dot_path}: differs from the templates (run bin/build-templates --graph)")
    if svg_path.is_file() and svg_source(svg_path.read_text(encoding="utf-8")) != dot_sha(dot):
        problems.append(f"{svg_path}: drawn from another DOT (run bin/build-templates --graph)")
    return problems
