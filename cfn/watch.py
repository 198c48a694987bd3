"""`bin/build-templates --watch`: build, then build again on every save of the configuration or
of any of the package's Python files, and print only what changed.

cfn-lint stays loaded (its import and rule set cost about a second; a rebuild lints only the
templates that changed, through the lint cache). The package's own modules are imported afresh
for each rebuild (dropped from `sys.modules`, bytecode neither read nor written, so an edit
within the same second as the last one is still seen): a stack module saved on disk is what the
next build renders. `cfn.lint` and `cfn.lintpatch` are kept (they hold cfn-lint's state); a
save under `cfn/rules/` reloads the rule set.

Files are polled (modification time and size, every `POLL_SECONDS`) with the standard library:
no dependency, and an editor's save-by-rename is seen like any other.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from cfn import lint, paths

POLL_SECONDS = 0.1
# Kept across rebuilds: they hold cfn-lint's loaded state, or run the loop itself.
KEEP = ("cfn", "cfn.lint", "cfn.lintpatch", "cfn.paths", "cfn.watch")
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


def _fresh_modules() -> Any:
    """`cfn.build` as the files on disk are now: every other package module imported again."""
    for name in [m for m in sys.modules if m.startswith("cfn.") and m not in KEEP]:
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
        from cfn import config
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
    """Lint the smallest template of each region once in this process, uncached: the first build
    linted in forked workers, so cfn-lint's lazily loaded schema data would otherwise be loaded
    here on the first save (about a second)."""
    smallest: dict[str, Any] = {}
    for t in sorted(rendered, key=lambda t: t.size):
        smallest.setdefault(t.region, t)
    lint.lint(list(smallest.values()), cache_dir=None, jobs=1)


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
    sys.dont_write_bytecode = True
    sys.pycache_prefix = str((paths.cache_dir() / "watch-no-bytecode").resolve())  # stays empty
    config_path = (request.config_path or paths.CONFIG_PATH).resolve()
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
            time.sleep(POLL_SECONDS)
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
