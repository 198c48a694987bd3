"""The no-change fast path: a build whose inputs have not changed is answered with the stored
result of the last identical clean build, without importing click, troposphere or cfn-lint.

The command line stores each clean result (`remember`) under a key of everything outside the
files it read that could change it: the exact arguments and working directory, the Python
interpreter, the package's source and configuration file, and the installed troposphere, awacs,
pydantic, botocore and cfn-lint (with cfn-lint's resource-schema data). The result itself lists
the files it was computed from and checked against (configuration, templates, diagrams, README),
with their hashes, and each template directory's listing. `answer` replays it only when the key
matches and every one of those files is unchanged; anything else takes the full build, which
stores the new result. Only clean results are stored, so a `--check` that a full run would fail
is never answered from here. The stored result is shown by the same `summary.report` the full
build uses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path

from cfn import lint, paths, summary
from cfn.fsutil import atomic_write
from cfn.summary import BuildResult

DEPENDENCIES = ("troposphere", "awacs", "pydantic", "pydantic_core", "botocore", "cfnlint")


def _installed(name: str) -> str:
    """The installed package's location and its files' stamps, without importing it."""
    spec = find_spec(name)
    if spec is None or spec.origin is None:
        return f"{name}: missing"
    origin = Path(spec.origin)
    return f"{name}:{origin}:{origin.parent.stat().st_mtime_ns}:{origin.stat().st_mtime_ns}"


def key(argv: Sequence[str]) -> str:
    """Hash of everything besides the files it reads that a build's result depends on."""
    h = hashlib.sha256()
    h.update(json.dumps([list(argv), os.getcwd(), sys.executable, sys.version]).encode())
    for path in sorted([*paths.PACKAGE_DIR.rglob("*.py"), *paths.PACKAGE_DIR.glob("*.toml")]):
        h.update(str(path.relative_to(paths.PACKAGE_DIR)).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    for name in DEPENDENCIES:
        h.update(_installed(name).encode() + b"\0")
    h.update(lint.schema_stamp().encode())
    return h.hexdigest()


def _record(record_key: str) -> Path:
    return paths.build_record_dir() / f"{record_key}.json"


def remember(record_key: str, result: BuildResult, output: str) -> None:
    """Store a clean result under `record_key` (`key(argv)`, taken before the build started, so
    that a source file edited while it ran makes the record stale, not wrong); `output` is the
    summary's format."""
    if not result.ok:
        return
    # What the same invocation would return next time: a write has nothing left to write.
    stored = dataclasses.replace(result, written=(), elapsed=0.0, replayed=False)
    # No record only means the next build takes the full path.
    with contextlib.suppress(OSError):
        text = json.dumps({"output": output, "result": stored.to_json()})
        atomic_write(_record(record_key), text)


def _unchanged(result: BuildResult) -> bool:
    for path, sha in result.inputs.items():
        try:
            now: str | None = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            now = None
        if now != sha:
            return False
    for directory, names in result.listings.items():
        if sorted(p.name for p in Path(directory).glob("*.json")) != names:
            return False
    return True


def replay(argv: Sequence[str]) -> tuple[BuildResult, str] | None:
    """The stored result for `argv` and its output format, if every input is unchanged."""
    try:
        data = json.loads(_record(key(argv)).read_text(encoding="utf-8"))
        result = BuildResult.from_json(data["result"])
        output = data["output"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _unchanged(result):
        return None
    return dataclasses.replace(result, replayed=True), output


def answer(argv: Sequence[str]) -> int | None:
    """Show the replayed result and return the exit code; None: build for real."""
    started = time.perf_counter()
    found = replay(argv)
    if found is None:
        return None
    result, output = found
    result = dataclasses.replace(result, elapsed=time.perf_counter() - started)
    out, err = summary.report(result, output)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return summary.exit_code(result)
