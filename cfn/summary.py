"""What a build found (`BuildResult`), and the one way it is shown: a table of templates, then
findings and differences, as text or JSON.

Kept free of click, troposphere and cfn-lint: the no-change fast path (`cfn.fastbuild`) loads a
stored result and shows it with the same `report` as the full build.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from cfn.lint import Finding

HEADERS = ("template", "resources", "bytes", "findings")
KINDS = ("template", "diagram", "doc")


@dataclass(frozen=True)
class Row:
    """One rendered template: its path as shown, resources, bytes and the text's SHA-256."""

    path: str
    resources: int
    size: int
    sha256: str


_WHAT = {
    ("template", "differs"): "differs from what the code renders",
    ("template", "missing"): "missing (the code renders it)",
    ("template", "extra"): "extra (the code no longer renders it)",
    ("diagram", "differs"): "differs from the templates",
    ("diagram", "missing"): "missing",
    ("doc", "differs"): "a generated section differs from the configuration and the templates",
    ("doc", "missing"): "missing",
}


@dataclass(frozen=True)
class Difference:
    """A file that is not what the build would write: a template, a diagram or another
    generated document; `fix` says what makes it right ("run bin/build-templates")."""

    path: str
    kind: str  # one of KINDS
    status: str  # "differs", "missing", "extra", or "broken" (cannot be generated; see details)
    fix: str
    details: tuple[str, ...] = ()

    def __str__(self) -> str:
        what = _WHAT.get((self.kind, self.status), self.status)
        if self.status == "broken":
            what = "; ".join(self.details)
        elif self.details:
            what += ": " + "; ".join(self.details)
        return f"{self.path}: {what} ({self.fix})"


@dataclass(frozen=True)
class BuildResult:
    """Everything a build decided; `cfn.build.run` makes it, the command line shows it.

    `inputs` (absolute path -> SHA-256, None when absent) and `listings` (directory -> its
    template files) are the files the result was computed from and checked against, as they
    were when it ended: the fast path replays a stored result only while they are unchanged.
    `rendered` (the templates' texts) stays in memory and is not stored.
    """

    mode: str  # "write" or "check"
    environments: tuple[str, ...]
    linted: bool
    templates: tuple[Row, ...]
    differences: tuple[Difference, ...] = ()
    findings: tuple[Finding, ...] = ()
    written: tuple[str, ...] = ()
    target: str = "templates"
    elapsed: float = 0.0
    inputs: dict[str, str | None] = field(default_factory=dict)
    listings: dict[str, list[str]] = field(default_factory=dict)
    replayed: bool = False
    rendered: tuple[Any, ...] = field(default=(), compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return not self.differences and not self.findings

    def to_json(self) -> dict[str, Any]:
        skip = ("rendered", "findings")
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}
        data["templates"] = [asdict(r) for r in self.templates]
        data["differences"] = [asdict(d) for d in self.differences]
        data["findings"] = [{"path": f.path, **f.to_json()} for f in self.findings]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BuildResult:
        return cls(
            **{
                **data,
                "environments": tuple(data["environments"]),
                "templates": tuple(Row(**r) for r in data["templates"]),
                "differences": tuple(
                    Difference(**{**d, "details": tuple(d["details"])}) for d in data["differences"]
                ),
                "findings": tuple(Finding(**f) for f in data["findings"]),
                "written": tuple(data["written"]),
            }
        )


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


def as_text(result: BuildResult) -> str:
    counts = per_file(result.findings)
    cells = [
        (
            r.path,
            str(r.resources),
            str(r.size),
            str(counts.get(r.path, 0)) if result.linted else "-",
        )
        for r in result.templates
    ]
    return table(cells)


def as_json(result: BuildResult) -> str:
    counts = per_file(result.findings)
    return json.dumps(
        {
            "ok": result.ok,
            "mode": result.mode,
            "templates": [
                {
                    "path": r.path,
                    "resources": r.resources,
                    "bytes": r.size,
                    "sha256": r.sha256,
                    "findings": counts.get(r.path, 0) if result.linted else None,
                }
                for r in result.templates
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
                for f in result.findings
            ],
            "differences": [
                {**asdict(d), "details": list(d.details), "message": str(d)}
                for d in result.differences
            ],
            "written": list(result.written),
        },
        indent=2,
    )


def closing_line(templates: int, environments: int, seconds: float) -> str:
    return f"{templates} template(s), {environments} environment(s), {seconds:.2f} s"


def report(
    result: BuildResult, output: str = "text", findings_elsewhere: bool = False
) -> tuple[str, str]:
    """(stdout, stderr) of a build: the summary as text or JSON, then the progress lines.

    `findings_elsewhere`: the findings went out in a cfn-lint format on stdout, so the text
    summary moves to stderr and the findings are not repeated.
    """
    out: list[str] = []
    err: list[str] = []
    if output == "json":
        out.append(as_json(result))
    else:
        shown = [as_text(result)]
        if not findings_elsewhere:
            shown += [str(f) for f in result.findings]
        shown += [str(d) for d in result.differences]
        (err if findings_elsewhere else out).extend(shown)
    if result.mode == "write":
        if result.written:
            err.append(f"wrote {len(result.written)} file(s): {', '.join(result.written)}")
        else:
            err.append(f"{result.target} and the generated docs already up to date")
    if result.replayed:
        err.append("(the same inputs as an earlier clean build: its result; --no-cache rebuilds)")
    if result.differences:
        err.append(
            f"{len(result.differences)} file(s) not what the build writes: each line above "
            "names the command that fixes it; then commit the result"
        )
    if result.findings:
        err.append(f"{len(result.findings)} lint finding(s)")
    err.append(closing_line(len(result.templates), len(result.environments), result.elapsed))
    return "\n".join(out) + ("\n" if out else ""), "\n".join(err) + "\n"


def exit_code(result: BuildResult) -> int:
    """0 clean; 1 lint findings or files that differ (`--check`)."""
    return 0 if result.ok else 1
