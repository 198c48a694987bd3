"""`bin/build-templates --watch`: build, then build again on every save of the configuration or
of any of the package's Python files, and print only what changed.

cfn-lint stays loaded (its import and rule set cost about a second; a rebuild lints only the
templates that changed, through the lint cache). After a save of any of the package's Python
files, its modules are imported afresh (dropped from `sys.modules`), each compiled from its
source as it is on disk, never from bytecode (which Python trusts while the source's size and
modification second are unchanged, so an edit within the same second could be missed); the
compiled code is kept in memory by source text, so only the files that changed are compiled
again. `cfn.lint` and `cfn.lintpatch` are kept (they hold cfn-lint's state); a save under
`cfn/rules/` reloads the rule set (cfn-lint imports the rules itself; no bytecode is written while
watching, so it finds none newer than the last build's).

Whether a file changed is decided by comparing its modification time and size with the last
ones seen, with the standard library: no dependency, and an editor's save-by-rename is seen like
any other. On Linux, inotify (through ctypes) wakes the loop as soon as a file in a watched
directory is closed after writing, renamed, deleted or touched, so a save is seen at once and an
idle watch costs no CPU; the files are still compared every `SAFETY_POLL_SECONDS` in case an
event was missed. Elsewhere they are compared every `POLL_SECONDS`.

Between saves the process keeps the templates of each environment (`render.remember_renders`): a
save of the configuration re-renders only the environments whose resolved values changed.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import json
import os
import select
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, TextIO

from cfn import lint, paths

POLL_SECONDS = 0.05  # without inotify
SAFETY_POLL_SECONDS = 1.0  # with inotify
# Kept across rebuilds: they hold cfn-lint's loaded state (the patches applied to it, every
# `cfn.lintpatch*` module, included), or run the loop itself.
KEEP = ("cfn", "cfn.lint", "cfn.lintpatch", "cfn.paths", "cfn.watch")


def kept(name: str) -> bool:
    return name in KEEP or name.startswith("cfn.lintpatch_")


Stamps = dict[Path, tuple[int, int]]


def watched(config_path: Path) -> list[Path]:
    """The files a save of which triggers a rebuild: the configuration and the package's code."""
    return [config_path, *sorted(paths.PACKAGE_DIR.rglob("*.py"))]


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(paths.PROJECT_ROOT))
    except ValueError:
        return str(path)


def stamps(files: Iterable[Path]) -> Stamps:
    out: Stamps = {}
    for path in files:
        try:
            st = path.stat()
        except OSError:
            continue  # deleted (or being replaced): its absence is the change
        out[path] = (st.st_mtime_ns, st.st_size)
    return out


class Wakeup:
    """Sleeps until a file in a watched directory changes, or a timeout passes: inotify on
    Linux, a plain sleep elsewhere (or when inotify cannot be had)."""

    # IN_ATTRIB (a touch), IN_CLOSE_WRITE (a save), IN_MOVED_FROM, IN_MOVED_TO (save by rename),
    # IN_DELETE. Not IN_MODIFY nor IN_CREATE: they come before a save is complete.
    MASK = 0x4 | 0x8 | 0x40 | 0x80 | 0x200

    def __init__(self) -> None:
        self.fd = -1
        self._libc: Any = None
        if not sys.platform.startswith("linux"):
            return
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, AttributeError):
            return
        if fd >= 0:
            self.fd, self._libc = fd, libc

    def watch(self, directories: Iterable[Path]) -> None:
        """Watch these directories too (again is harmless; one that fails is still polled)."""
        if self.fd >= 0:
            for d in directories:
                self._libc.inotify_add_watch(self.fd, os.fsencode(d), self.MASK)

    def wait(self) -> None:
        if self.fd < 0:
            time.sleep(POLL_SECONDS)
            return
        ready, _, _ = select.select([self.fd], [], [], SAFETY_POLL_SECONDS)
        while ready:  # drain: the files are compared anyway, the events only wake the loop
            try:
                ready = bool(os.read(self.fd, 65536))
            except BlockingIOError:
                ready = False

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class SourceLoader(importlib.machinery.SourceFileLoader):
    """Loads a module of the package from its source text, never from bytecode; the code compiled
    from each text is kept, so an unchanged file is not compiled again."""

    compiled: dict[str, tuple[bytes, Any]] = {}  # path -> (its last text, that text compiled)

    def get_code(self, fullname: str) -> Any:
        path = self.get_filename(fullname)
        source = self.get_data(path)
        kept = self.compiled.get(path)
        if kept is None or kept[0] != source:
            kept = self.compiled[path] = (source, self.source_to_code(source, path))
        return kept[1]


class FromSource:
    """A finder that gives the package's modules (except those kept) a `SourceLoader`."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if not name.startswith("cfn.") or kept(name):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader:
            spec.loader = SourceLoader(spec.loader.name, spec.loader.path)
        return spec


def _fresh_modules() -> Any:
    """`cfn.build` as the files on disk are now: every other package module imported again."""
    for name in [m for m in sys.modules if m.startswith("cfn.") and not kept(m)]:
        del sys.modules[name]
        parent, _, child = name.rpartition(".")
        # `from cfn import config` takes the package's attribute when it has one.
        if parent in sys.modules and child in vars(sys.modules[parent]):
            delattr(sys.modules[parent], child)
    importlib.invalidate_caches()
    return importlib.import_module("cfn.build")


def _one_build(request: Any, code_changed: bool = True) -> tuple[Any, str | None]:
    """(the BuildResult, None), or (None, the one-line error) when the build cannot be done.
    `code_changed`: a Python file was saved, so the package is imported afresh (a save of the
    configuration alone keeps the modules: it is data, read by every build)."""
    try:
        build = _fresh_modules() if code_changed else importlib.import_module("cfn.build")
        from cfn import config, render

        render.remember_renders()
    except Exception as exc:  # a module saved half-edited (a syntax error): keep watching
        return None, f"error: cannot import the package: {type(exc).__name__}: {exc}"
    try:
        return build.run(build.BuildRequest(**asdict(request))), None
    except config.ConfigError as exc:
        return None, f"error: invalid configuration: {exc}"
    except build.BuildError as exc:
        return None, f"error: {exc}"
    except Exception as exc:  # a stack module being edited: say where, keep watching
        return None, f"error: the build failed: {type(exc).__name__}: {exc}"


def _warm_up(rendered: Sequence[Any]) -> None:
    """Lint, once in this process and uncached, the smallest template of each region with each
    set of resource types: the first build linted in forked workers (or not at all, from the lint
    cache), so cfn-lint's lazily loaded rules and schemas would otherwise be loaded on the first
    save, making it slower than the next ones."""
    kinds: dict[tuple[str, frozenset[str]], Any] = {}
    for t in sorted(rendered, key=lambda t: t.size):
        resources = json.loads(t.text).get("Resources", {}).values()
        types = frozenset(r.get("Type", "") for r in resources)
        kinds.setdefault((t.region, types), t)
    lint.lint(list(kinds.values()), cache_dir=None, jobs=1)


def changes(before: Any, after: Any) -> list[str]:
    """What a person needs to see after a rebuild: files written, findings added or removed."""
    lines = [f"wrote {name}" for name in after.written]
    old = {str(f) for f in before.findings} if before is not None else set()
    new = {str(f) for f in after.findings}
    lines += [f"+ {f}" for f in sorted(new - old)]
    lines += [f"- {f}" for f in sorted(old - new)]
    return lines


def run(
    request: Any,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    first: Callable[[Any], None] | None = None,
) -> int:
    """Build, then rebuild on each save until Ctrl-C; returns the exit status (0)."""
    sys.dont_write_bytecode = True  # and the package's modules read none (`FromSource`)
    if not any(isinstance(f, FromSource) for f in sys.meta_path):
        sys.meta_path.insert(0, FromSource())
    config_path = (request.config_path or paths.CONFIG_PATH).resolve()
    # No lint parent (`cfn.lintfork`): this process loads cfn-lint anyway (the warm-up, the
    # rebuilds), so one would load it a second time, and again on each save while cfn-lint is
    # not loaded here (a first build that failed).
    request = replace(request, lint_ahead=False)
    wakeup = Wakeup()
    try:
        last, error = _one_build(request)
        if first is not None and last is not None:
            first(last)
        if last is not None and request.lint:
            _warm_up(last.rendered)
        if error:
            print(error, file=err, flush=True)
        seen = stamps(watched(config_path))
        print(f"watching {_shown(config_path)} and cfn/**/*.py (Ctrl-C stops)", file=err)
        err.flush()
        while True:
            wakeup.watch({p.parent for p in seen} | {config_path.parent})
            wakeup.wait()
            now = stamps(watched(config_path))
            if now == seen:
                continue
            started = time.perf_counter()
            changed = {p for p, _ in set(now.items()) ^ set(seen.items())}
            seen = now
            last = _rebuild(request, last, changed, started, out, err)
    except KeyboardInterrupt:
        print("stopped watching", file=err, flush=True)
        return 0
    finally:
        wakeup.close()


def _rebuild(
    request: Any, last: Any, changed: set[Path], started: float, out: TextIO, err: TextIO
) -> Any:
    """One rebuild after a save of `changed`; prints what changed in the result; returns the
    result to compare with next."""
    if any(p.is_relative_to(paths.RULES_DIR) for p in changed):
        lint._rules.cache_clear()
        lint._rules_source_hash.cache_clear()
    result, error = _one_build(request, code_changed=any(p.suffix == ".py" for p in changed))
    elapsed = time.perf_counter() - started
    if error:
        print(error, file=err, flush=True)
        return last
    lines = changes(last, result)
    if lines:
        print("\n".join(lines), file=out, flush=True)
    added = sum(line.startswith("+ ") for line in lines)
    removed = sum(line.startswith("- ") for line in lines)
    print(
        f"rebuilt in {elapsed:.2f} s: {len(result.written)} file(s) written, "
        f"{len(result.findings)} finding(s) ({added} new, {removed} gone)",
        file=err,
        flush=True,
    )
    return result
