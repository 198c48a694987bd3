"""The build's summary (a table of templates, then findings and differences), as text or JSON.

Kept free of click, troposphere and cfn-lint so that a cached build (`cfn.fastbuild`) prints it
without importing them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

HEADERS = ("template", "resources", "bytes", "findings")


@dataclass(frozen=True)
class Row:
    path: str
    resources: int
    size: int
    sha256: str


def table(rows: list[tuple[str, ...]], headers: tuple[str, ...] = HEADERS) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    right = {i for i, h in enumerate(headers) if h in {"resources", "bytes", "findings"}}

    def fmt(row: tuple[str, ...]) -> str:
        cells = [
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    return "\n".join([fmt(headers), fmt(tuple("-" * w for w in widths)), *map(fmt, rows)])


def per_file(findings: Sequence[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in findings:
        counts[f.path] = counts.get(f.path, 0) + 1
    return counts


def as_text(rows: Sequence[Row], findings: Sequence[Any], linted: bool) -> str:
    counts = per_file(findings)
    cells = [
        (r.path, str(r.resources), str(r.size), str(counts.get(r.path, 0)) if linted else "-")
        for r in rows
    ]
    return table(cells)


def as_json(
    rows: Sequence[Row],
    findings: Sequence[Any],
    differences: Sequence[dict[str, Any]],
    linted: bool,
) -> str:
    counts = per_file(findings)
    return json.dumps(
        {
            "ok": not findings and not differences,
            "templates": [
                {
                    "path": r.path,
                    "resources": r.resources,
                    "bytes": r.size,
                    "sha256": r.sha256,
                    "findings": counts.get(r.path, 0) if linted else None,
                }
                for r in rows
            ],
            "findings": [
                {
                    "path": f.path,
                    "line": f.line,
                    "column": f.column,
                    "rule": f.rule_id,
                    "level": f.level,
                    "message": f.message,
                }
                for f in findings
            ],
            "differences": list(differences),
        },
        indent=2,
    )


def closing_line(templates: int, environments: int, seconds: float) -> str:
    return f"{templates} template(s), {environments} environment(s), {seconds:.2f} s"
