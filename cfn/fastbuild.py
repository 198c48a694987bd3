"""The no-change fast path: a build whose inputs have not changed is answered with the stored
output of the last identical clean build, importing nothing but the standard library's basics
(no click, pydantic, troposphere or cfn-lint, not even `cfn.summary`).

The command line takes a `snapshot` of everything outside the files a build reads that could
change its result, before the build starts: the exact arguments and working directory, the
Python interpreter, each file of the package's source and configuration (with its hash), the
installed troposphere, awacs, pydantic, botocore and cfn-lint (with cfn-lint's resource-schema
data), the endpoint data botocore reads before its own (`$AWS_DATA_PATH`, `~/.aws/models`: the
regions a configuration may name), and the `.cfnlintrc` files cfn-lint would read. After a clean
build, `remember` stores, for that invocation, the snapshot, the files the result was computed
from and checked against (configuration, templates, diagrams, README: `BuildResult.inputs`) with
their hashes, each template directory's listing, and the output the build printed. `answer`
replays that output only when every one of those is unchanged; anything else takes the full
build, which stores the new result. Only clean results are stored, so a `--check` that a full
run would fail is never answered from here.

"Unchanged" is decided per file by its content's SHA-256, with a sound shortcut: a file whose
status (device, inode, size, modification and change times) is what it was when it was hashed
is not read again. The change time (ctime) cannot be set by a program: any write, rename or
`touch` (even one that puts the old modification time back) sets it to the current time. A
status is only trusted when its ctime was at least `SETTLED_NS` older than the clock when it was
taken, so that a write in the same tick of the file system's coarse clock (which would keep the
ctime) cannot have followed it; a younger file is hashed at every replay until it settles (a
replay that finds it unchanged then stores its status). This assumes the file system's clock is
this machine's, as git's index does.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from importlib.util import find_spec

from cfn import lintinputs, paths

TYPE_CHECKING = False  # not `typing`'s: importing it costs the fast path milliseconds
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from cfn.summary import BuildResult

DEPENDENCIES = ("troposphere", "awacs", "pydantic", "pydantic_core", "botocore", "cfnlint")
FORMAT = 2  # of the stored record; another one is not read
# A file status younger than this is not trusted (see the module docstring): above the coarse
# clock's tick of Linux file systems (a few ms) and FAT's two-second timestamps.
SETTLED_NS = 2_000_000_000
# A file's entry in a record: [its SHA-256, or None when there is no such file], followed, when
# the status is trusted, by the status: device, inode, size, modification and change times (ns).
Entry = list


def _sha256(data: bytes) -> str:
    import hashlib  # only when a file must be read: OpenSSL costs milliseconds to load

    return hashlib.sha256(data).hexdigest()


def _sources(directory: str | None = None) -> list[str]:
    """The package's source files: every `*.py` below it (not in `__pycache__`) and the
    `*.toml` beside its modules, as sorted absolute paths."""
    top = directory is None
    directory = str(paths.PACKAGE_DIR) if directory is None else directory
    found: list[str] = []
    with os.scandir(directory) as entries:
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                if e.name != "__pycache__":
                    found += _sources(e.path)
            elif e.name.endswith(".py") or (top and e.name.endswith(".toml")):
                found.append(e.path)
    return sorted(found)


def _installed(name: str) -> str:
    """The installed package's location and its files' stamps, without importing it."""
    spec = find_spec(name)
    if spec is None or spec.origin is None:
        return f"{name}: missing"
    origin = spec.origin
    folder = os.path.dirname(origin)
    return f"{name}:{origin}:{os.stat(folder).st_mtime_ns}:{os.stat(origin).st_mtime_ns}"


def _endpoint_data() -> str:
    """Stamp of the endpoint data botocore reads before its own (`cfn.awsregions`: which regions
    a configuration may name): `$AWS_DATA_PATH`'s directories and `~/.aws/models`, each with
    the status of its `endpoints.json` (the change time: any write sets it), or its absence."""
    custom = os.environ.get("AWS_DATA_PATH", "")
    directories = [os.path.expanduser(d) for d in custom.split(os.pathsep) if d]
    parts = [f"AWS_DATA_PATH={custom}"]
    for directory in [*directories, os.path.expanduser("~/.aws/models")]:
        try:
            st = os.stat(os.path.join(directory, "endpoints.json"))
            parts.append(f"{directory}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}")
        except OSError:
            parts.append(f"{directory}: none")
    return "\n".join(parts)


def _environment() -> list[str]:
    """The installed dependencies, cfn-lint's schema data and botocore's custom endpoint data,
    as stamps."""
    return [
        *(_installed(name) for name in DEPENDENCIES),
        lintinputs.schema_stamp(),
        _endpoint_data(),
    ]


def _invocation(argv: Sequence[str]) -> list[object]:
    return [list(argv), os.getcwd(), sys.executable, sys.version]


def _status(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _entry(path: str) -> Entry:
    """The file's hash now, with its status when that is settled (taken before the read, so the
    hash is of a content at least as new as the status)."""
    try:
        st = os.stat(path)
        with open(path, "rb") as fh:
            sha = _sha256(fh.read())
    except (FileNotFoundError, NotADirectoryError):
        return [None]
    settled = time.time_ns() - st.st_ctime_ns >= SETTLED_NS
    return [sha, *_status(st)] if settled else [sha]


def _unchanged(path: str, entry: Entry, refreshed: dict[str, Entry]) -> bool:
    """Whether the file has the content (or absence) `entry` records; a file found unchanged by
    its hash whose status has settled since goes to `refreshed`."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return entry[0] is None
    except OSError:
        return False
    if entry[0] is None:
        return False
    if entry[1:] == _status(st):
        return True
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return False
    if _sha256(data) != entry[0]:
        return False
    if time.time_ns() - st.st_ctime_ns >= SETTLED_NS:
        refreshed[path] = [entry[0], *_status(st)]
    return True


class Snapshot:
    """The inputs of an invocation besides the files its result lists, taken before it runs."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        self.invocation = _invocation(argv)
        self.sources = {path: _entry(path) for path in _sources()}
        self.environment = _environment()
        self.cfnlintrc = {str(p): _entry(str(p)) for p in lintinputs.cfnlintrc_files()}

    def key(self) -> str:
        """One hash of all of it (file statuses left out: only contents count)."""
        parts = [self.invocation, self.environment]
        parts += [[p, e[0]] for p, e in sorted({**self.sources, **self.cfnlintrc}.items())]
        return _sha256(json.dumps(parts).encode())


def snapshot(argv: Sequence[str]) -> Snapshot | None:
    """The snapshot to `remember` the build's result with; None (nothing will be stored) when a
    file of the package cannot be read."""
    try:
        return Snapshot(argv)
    except OSError:
        return None


def key(argv: Sequence[str]) -> str:
    """Hash of everything besides the files it reads that a build's result depends on."""
    return Snapshot(argv).key()


def _record(argv: Sequence[str]) -> str:
    """The record's file: one per invocation (named by a checksum; the invocation is compared
    in full when read)."""
    from zlib import crc32

    name = f"{crc32(json.dumps(_invocation(argv)).encode()):08x}.json"
    return os.path.join(paths.build_record_dir(), name)


def _store(path: str, record: dict[str, Any]) -> None:
    # A record that cannot be written only means the next build takes the full path.
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(record, fh)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def remember(taken: Snapshot, result: BuildResult, output: str) -> None:
    """Store a clean result's output for the invocation of `taken` (its snapshot, taken before
    the build started). Nothing is stored when an input changed while the build ran: a record
    must only ever say what a full build of the files now on disk says."""
    if not result.ok:
        return
    try:
        record = _record_of(taken, result, output)
    except OSError:  # an input that cannot be read now: no record, the next build is full
        return
    if record is not None:
        _store(_record(taken.argv), record)


def _record_of(taken: Snapshot, result: BuildResult, output: str) -> dict[str, Any] | None:
    import dataclasses

    from cfn import summary

    now = Snapshot(taken.argv)
    if (now.invocation, now.environment) != (taken.invocation, taken.environment):
        return None
    for before, after in ((taken.sources, now.sources), (taken.cfnlintrc, now.cfnlintrc)):
        if [(p, e[0]) for p, e in before.items()] != [(p, e[0]) for p, e in after.items()]:
            return None
    inputs = {path: _entry(path) for path in result.inputs}
    if any(inputs[path][0] != sha for path, sha in result.inputs.items()):
        return None
    # What the same invocation shows next time: a write has nothing left to write.
    again = dataclasses.replace(result, written=(), elapsed=0.0, replayed=True)
    out, err = summary.report(again, output)
    closing = summary.closing_line(len(result.templates), len(result.environments), 0.0)
    if not (err.endswith(closing + "\n") and closing.endswith(" 0.00 s")):
        return None
    return {
        "format": FORMAT,
        "invocation": now.invocation,
        "environment": now.environment,
        "files": {**now.sources, **now.cfnlintrc, **inputs},
        "sources": list(now.sources),
        "listings": result.listings,
        "stdout": out,
        "stderr": err[: -len(closing) - 1],
        "closing": closing[: -len("0.00 s")],
        "exit": summary.exit_code(result),
    }


def _listing(directory: str) -> list[str] | None:
    """The directory's template files, as `BuildResult.listings` has them."""
    try:
        return sorted(n for n in os.listdir(directory) if n.endswith(".json"))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError:
        return None


def _replayable(record: dict[str, Any], argv: Sequence[str]) -> bool:
    """Whether the record answers `argv` now; statuses found settled go back into it."""
    if record.get("format") != FORMAT or record["invocation"] != _invocation(argv):
        return False
    if record["sources"] != _sources() or record["environment"] != _environment():
        return False
    if any(_listing(d) != names for d, names in record["listings"].items()):
        return False
    refreshed: dict[str, Entry] = {}
    if not all(_unchanged(p, e, refreshed) for p, e in record["files"].items()):
        return False
    if refreshed:
        record["files"].update(refreshed)
        _store(_record(argv), record)
    return True


def answer(argv: Sequence[str]) -> int | None:
    """Show the stored output and return its exit code; None: build for real."""
    started = time.perf_counter()
    try:
        with open(_record(argv), encoding="utf-8") as fh:
            record = json.load(fh)
        if not _replayable(record, argv):
            return None
        out, err, closing, code = (record[k] for k in ("stdout", "stderr", "closing", "exit"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    sys.stdout.write(out)
    sys.stderr.write(f"{err}{closing}{time.perf_counter() - started:.2f} s\n")
    return int(code)
