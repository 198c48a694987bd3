"""A rebuild with nothing changed, answered from a record of the last clean build.

The rendered templates are a pure function of the configuration file, the package's source,
and the installed troposphere, awacs and cfn-lint; their findings, of the same plus the rules.
After a clean build of the project's own `templates/`, `remember` records those inputs' hash
with the summary (each template's path, resources, bytes and SHA-256) and the findings. When
the next `bin/build-templates` has the same inputs, and every file of `templates/` still has the
recorded hash, `main` prints the same summary and exits with the same code without importing
click, troposphere or cfn-lint. Anything else (other options, an edited template, a changed
input) takes the full path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from cfn.fsutil import atomic_write
from cfn.summary import Row, as_json, as_text, closing_line

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"
RECORD_DIR = PROJECT_ROOT / ".cache" / "build"
DOCS_DIR = PROJECT_ROOT / "docs" / "architecture"
CONFIG_PATH = PACKAGE_DIR / "insightxi.toml"
DEPENDENCIES = ("troposphere", "awacs", "cfnlint")


@dataclass(frozen=True)
class CachedFinding:
    """A finding as the summary prints it (the same fields as `cfn.lint.Finding`)."""

    path: str
    line: int
    column: int
    rule_id: str
    message: str

    @property
    def level(self) -> str:
        return {"E": "error", "W": "warning", "I": "informational"}.get(self.rule_id[:1], "error")

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.rule_id} {self.message}"


def inputs_key(envs: Sequence[str], no_lint: bool) -> str:
    """Hash of everything a build's output depends on."""
    h = hashlib.sha256()
    h.update(json.dumps({"envs": list(envs), "no_lint": no_lint, "python": sys.version}).encode())
    for path in [CONFIG_PATH, *sorted(PACKAGE_DIR.rglob("*.py"))]:
        h.update(str(path.relative_to(PACKAGE_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    for name in DEPENDENCIES:
        # The installed package's location and its files' stamps, without importing it.
        spec = find_spec(name)
        origin = Path(spec.origin) if spec and spec.origin else None
        if origin is None:
            h.update(f"{name}: missing".encode())
            continue
        st = origin.parent.stat()
        h.update(f"{name}:{origin}:{st.st_mtime_ns}:{origin.stat().st_mtime_ns}".encode())
    return h.hexdigest()


def remember(
    envs: Sequence[str], no_lint: bool, rows: Sequence[Row], findings: Sequence[Any]
) -> None:
    record = {
        "rows": [[r.path, r.resources, r.size, r.sha256] for r in rows],
        "findings": [[f.path, f.line, f.column, f.rule_id, f.message] for f in findings],
        "diagrams": _diagram_hashes({r.path.split("/")[1] for r in rows}),
    }
    # No record only means the next build takes the full path.
    with contextlib.suppress(OSError):
        atomic_write(RECORD_DIR / f"{inputs_key(envs, no_lint)}.json", json.dumps(record))


def _diagram_hashes(envs: set[str]) -> dict[str, str]:
    """The committed diagrams of these environments (checked by --check), by hash."""
    out = {}
    for env in sorted(envs):
        for path in sorted(DOCS_DIR.glob(f"{env}.*")):
            out[str(path.relative_to(PROJECT_ROOT))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _parse(argv: list[str]) -> tuple[list[str], bool, bool, str] | None:
    """(envs, check, no_lint, output) for the plain invocations; None for anything else."""
    envs: list[str] = []
    check = no_lint = False
    output = "text"
    args = iter(argv)
    for arg in args:
        if arg == "--check":
            check = True
        elif arg == "--no-lint":
            no_lint = True
        elif arg == "--env" or arg.startswith("--env="):
            value = arg.partition("=")[2] if "=" in arg else next(args, None)
            if not value:
                return None
            envs.append(value)
        elif arg == "--output" or arg.startswith("--output="):
            value = arg.partition("=")[2] if "=" in arg else next(args, None)
            if value not in ("text", "json"):
                return None
            output = value
        else:
            return None
    return envs, check, no_lint, output


def _tree_matches(rows: list[list[Any]]) -> bool:
    """Every recorded file has its recorded hash, and no other template sits beside them."""
    expected: dict[Path, str] = {}
    for path, _, _, sha in rows:
        expected[PROJECT_ROOT / path] = sha
    for env_dir in {p.parent for p in expected}:
        if set(env_dir.glob("*.json")) != {p for p in expected if p.parent == env_dir}:
            return False
    for path, sha in expected.items():
        try:
            if hashlib.sha256(path.read_bytes()).hexdigest() != sha:
                return False
        except OSError:
            return False
    return True


def try_cached(argv: list[str]) -> int | None:
    """Print the summary from the record and return the exit code; None to build for real."""
    started = time.perf_counter()
    parsed = _parse(argv)
    if parsed is None:
        return None
    envs, check, no_lint, output = parsed
    try:
        key = inputs_key(envs, no_lint)
        record = json.loads((RECORD_DIR / f"{key}.json").read_text(encoding="utf-8"))
        rows = record["rows"]
        findings = [CachedFinding(*f) for f in record["findings"]]
        diagrams = record["diagrams"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _tree_matches(rows) or _diagram_hashes({r[0].split("/")[1] for r in rows}) != diagrams:
        return None
    summary_rows = [Row(*r) for r in rows]
    if output == "json":
        print(as_json(summary_rows, findings, [], linted=not no_lint))
    else:
        print(as_text(summary_rows, findings, linted=not no_lint))
        for f in findings:
            print(f)
    if not check:
        print(f"{TEMPLATES_DIR} already up to date", file=sys.stderr)
    if findings:
        print(f"{len(findings)} lint finding(s)", file=sys.stderr)
    environments = len({r[0].split("/")[1] for r in rows})
    print(closing_line(len(rows), environments, time.perf_counter() - started), file=sys.stderr)
    return 1 if findings else 0


def main(slow: Callable[[], None] | None = None) -> None:
    code = try_cached(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    if slow is None:
        from cfn.cli.build import build_templates

        def slow() -> None:
            build_templates(prog_name="build-templates")

    try:
        slow()
    except SystemExit as done:
        # After linting, tearing down cfn-lint's object graph costs about a second at exit;
        # the output is flushed and every file written is closed, so skip it.
        sys.stdout.flush()
        sys.stderr.flush()
        status = done.code
        if isinstance(status, str):
            print(status, file=sys.stderr, flush=True)
        os._exit(status if isinstance(status, int) else (0 if status is None else 1))
