"""The build, from one place: `run(BuildRequest) -> BuildResult`.

It loads the configuration, renders the selected environments, compares the templates and the
generated documents (each environment's diagram, the README's generated sections: `cfn.docs`)
with the files on disk, writes what differs (mode "write") or reports it (mode "check"), lints,
and returns everything it decided. It prints nothing: `cfn.cli.build` shows the result, and the
no-change fast path (`cfn.fastbuild`) stores and replays it.

Writing is all or nothing (`fsutil.replace_files`): if any file cannot be written, no template or
document is changed, and the error names the path.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cfn import paths
from cfn.fsutil import WriteError, replace_files
from cfn.summary import BuildResult, Difference, Row

if TYPE_CHECKING:
    from cfn.config import Platform
    from cfn.docs import Generated
    from cfn.render import RenderedTemplate

__all__ = ["BuildError", "BuildRequest", "BuildResult", "Difference", "compare", "run"]
TEMPLATES_DIR = paths.TEMPLATES_DIR  # kept for callers that name it through this module


class BuildError(Exception):
    """A build that cannot be done as asked; the message says what, where and how to fix it."""


class UnknownEnvironment(BuildError):
    pass


@dataclass(frozen=True)
class BuildRequest:
    """What to build. Empty `envs`: every environment of the configuration, in its order."""

    envs: tuple[str, ...] = ()
    mode: str = "write"  # "write": make the files what the code renders; "check": compare only
    lint: bool = True
    docs: bool = True  # the diagrams and the README's generated sections
    config_path: Path | None = None
    out_dir: Path | None = None
    use_cache: bool = True
    docs_dir: Path | None = None
    readme: Path | None = None
    # Load cfn-lint in a forked lint parent while rendering (`cfn.lintfork`); False when the
    # caller loads it in this process after the build anyway (--lint-format, --watch): it would be
    # loaded twice, the second time after the build, where nothing runs beside it.
    lint_ahead: bool = True

    def fix(self) -> str:
        """The command that makes the files what this build expects."""
        words = ["run bin/build-templates"]
        words += [f"--env {e}" for e in self.envs]
        if self.config_path:
            words.append(f"--config {self.config_path}")
        if self.out_dir:
            words.append(f"--out {self.out_dir}")
        return " ".join(words)


def shown(path: Path) -> str:
    """A path as messages show it: relative to the project when inside it."""
    try:
        return str(path.resolve().relative_to(paths.PROJECT_ROOT))
    except ValueError:
        return str(path)


def describe_difference(expected: str, actual: str) -> tuple[str, ...]:
    """Which sections and logical ids differ between two template texts."""
    try:
        a, b = json.loads(expected), json.loads(actual)
    except json.JSONDecodeError:
        return ("not valid JSON on disk",)
    out: list[str] = []
    for section in sorted(set(a) | set(b)):
        x, y = a.get(section), b.get(section)
        if x == y:
            continue
        if isinstance(x, dict) and isinstance(y, dict):
            for key in sorted(set(x) | set(y)):
                if key not in y:
                    out.append(f"{section}.{key} only in the code")
                elif key not in x:
                    out.append(f"{section}.{key} only on disk")
                elif x[key] != y[key]:
                    out.append(f"{section}.{key} changed")
        else:
            out.append(f"{section} changed")
    # Same data, different bytes: formatting or key order was edited by hand.
    return tuple(out) or ("formatting differs",)


def _read(path: Path) -> str | None:
    """The file's text; None when it does not exist."""
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise BuildError(f"cannot read {shown(path)}: {reason}") from exc


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("*.json")) if directory.is_dir() else []


def select(platform: Platform, names: Sequence[str]) -> list[str]:
    """The environments to build, in the configuration's order, without repeats."""
    known = list(platform.environments)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UnknownEnvironment(
            f"unknown environment {', '.join(map(repr, unknown))}; known: {', '.join(known)}"
        )
    return [n for n in known if n in names] if names else known


@dataclass
class _Plan:
    """The files the build wants (path -> text), those it wants gone, what differs, and what it
    saw on disk (path -> text, None when absent; directory -> its template files)."""

    want: dict[Path, str]
    remove: list[Path]
    differences: list[Difference]
    broken: list[Difference]
    seen: dict[Path, str | None]
    listings: dict[Path, list[str]]


def _plan(
    request: BuildRequest,
    rendered: Sequence[RenderedTemplate],
    out: Path,
    docs: list[Generated],
    shown: Callable[[Path], str] = shown,
) -> _Plan:
    plan = _Plan({}, [], [], [], {}, {})
    fix = request.fix()
    for env in dict.fromkeys(r.env for r in rendered):
        files = {r.filename: r.text for r in rendered if r.env == env}
        plan.listings[out / env] = _listing(out / env)
        for name in sorted(set(files) | set(plan.listings[out / env])):
            path = out / env / name
            on_disk = _read(path) if name in files or path.is_file() else None
            plan.seen[path] = on_disk
            if name not in files:
                plan.remove.append(path)
                plan.differences.append(Difference(shown(path), "template", "extra", fix))
            elif on_disk is None:
                plan.want[path] = files[name]
                plan.differences.append(Difference(shown(path), "template", "missing", fix))
            elif on_disk != files[name]:
                plan.want[path] = files[name]
                details = describe_difference(files[name], on_disk)
                plan.differences.append(
                    Difference(shown(path), "template", "differs", fix, details)
                )
    for g in docs:
        if g.text is None:
            repair = "restore them (git checkout README.md), then run bin/build-templates"
            plan.broken.append(Difference(shown(g.path), g.kind, "broken", repair, (g.problem,)))
            continue
        on_disk = plan.seen[g.path] = _read(g.path)
        if on_disk != g.text:
            plan.want[g.path] = g.text
            status = "missing" if on_disk is None else "differs"
            plan.differences.append(Difference(shown(g.path), g.kind, status, fix))
    return plan


def compare(rendered: Sequence[RenderedTemplate], out_dir: Path) -> list[Difference]:
    """The templates under `out_dir` that differ from `rendered` (as `bin/deploy plan` checks)."""
    relative = lambda p: str(p.relative_to(out_dir))  # noqa: E731  # "dev/edge.json"
    return _plan(BuildRequest(), rendered, out_dir, [], relative).differences


def _write(plan: _Plan, out: Path) -> tuple[str, ...]:
    try:
        replace_files(plan.want, plan.remove)
    except WriteError as exc:
        fix = "make it a writable directory"
        if exc.path.resolve().is_relative_to(out.resolve()) or out.resolve().is_relative_to(
            exc.path.resolve()
        ):
            fix += ", or write the templates elsewhere with --out DIR"
        raise BuildError(
            f"cannot write {shown(exc.path)}: {exc.reason} ({fix}); nothing was changed"
        ) from exc
    return tuple(shown(p) for p in [*plan.want, *plan.remove])


def _sha(data: bytes | str | None) -> str | None:
    if data is None:
        return None
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def _inputs(config_path: Path, config_bytes: bytes | None, plan: _Plan) -> dict[str, str | None]:
    """The hashes of the files the result was computed from and checked against, as the build
    read them (or wrote them): what the fast path compares before replaying it."""
    inputs = {str(config_path.resolve()): _sha(config_bytes)}
    inputs.update({str(p.resolve()): _sha(text) for p, text in plan.seen.items()})
    return inputs


def _lint_ahead(request: BuildRequest) -> Callable[[RenderedTemplate], None] | None:
    """What the render calls with each template it makes: at the first one the lint cache does
    not answer, the lint process starts (`cfn.lintfork.prestart`) and loads cfn-lint while the
    rest renders. A build whose every finding is cached forks nothing and loads nothing."""
    if not (request.lint and request.lint_ahead):
        return None
    from cfn import lint, lintfork

    asked = False

    def each(template: RenderedTemplate) -> None:
        nonlocal asked
        if not asked and not lint.is_cached(template, request.use_cache or None):
            asked = True
            lintfork.prestart()

    return each


def _lint_certain(request: BuildRequest) -> bool:
    """Whether this build will lint every template it renders, known before anything is
    imported or rendered: no lint cache to read (--no-cache), or an empty one (a new checkout,
    CI, a cache just cleared)."""
    if not (request.lint and request.lint_ahead):
        return False
    from cfn import lint

    where = lint._cache_dir(request.use_cache or None)
    if where is None:
        return True
    try:
        with os.scandir(where) as entries:
            return next(entries, None) is None
    except OSError:  # none yet (or unreadable: the build says so when it writes there)
        return True


def run(request: BuildRequest) -> BuildResult:
    """Build as asked; raise `BuildError` (or `config.ConfigError`) when it cannot."""
    from cfn import lintfork

    if _lint_certain(request):
        # The lint process loads cfn-lint (about 0.6 s) while this one imports the
        # configuration's and templates' modules, loads the configuration and renders: started
        # at the first template (`_lint_ahead`), it would start about 0.25 s later.
        lintfork.prestart()
    try:
        return _run(request)
    finally:
        lintfork.stop()  # the lint parent started ahead, when the build ended before linting


def _run(request: BuildRequest) -> BuildResult:
    from cfn import config, docs, render

    started = time.perf_counter()
    config_path = request.config_path or config.DEFAULT_CONFIG_PATH
    try:
        # Hashed before it is loaded: an edit while the build runs makes the stored result stale.
        config_bytes: bytes | None = config_path.read_bytes()
    except OSError:
        config_bytes = None  # config.load says what is wrong with it
    platform = config.load(config_path)
    names = select(platform, request.envs)
    rendered = render.render(platform, names, each=_lint_ahead(request))
    out = request.out_dir or paths.TEMPLATES_DIR
    generated: list[Generated] = []
    if request.docs:
        every_env = len(names) == len(platform.environments)
        readme = (request.readme or paths.README) if every_env else None
        generated = docs.generated(
            platform, rendered, names, request.docs_dir or paths.DOCS_DIR, readme
        )
    plan = _plan(request, rendered, out, generated)
    written: tuple[str, ...] = ()
    differences = [*plan.differences, *plan.broken]
    if request.mode == "write":
        written = _write(plan, out) if plan.want or plan.remove else ()
        differences = plan.broken
        plan.seen.update({**plan.want, **dict.fromkeys(plan.remove)})
        for directory in plan.listings:
            plan.listings[directory] = sorted(
                r.filename for r in rendered if out / r.env == directory
            )
    findings = []
    label = shown(out)
    if request.lint:
        from cfn import lint

        findings = lint.lint(rendered, base=label, cache_dir=request.use_cache or None)
    return BuildResult(
        mode=request.mode,
        environments=tuple(names),
        linted=request.lint,
        templates=tuple(
            Row(f"{label}/{r.path}", r.resource_count, r.size, r.sha256) for r in rendered
        ),
        differences=tuple(differences),
        findings=tuple(findings),
        written=written,
        target=label,
        elapsed=time.perf_counter() - started,
        inputs=_inputs(config_path, config_bytes, plan),
        listings={str(d.resolve()): names for d, names in plan.listings.items()},
        rendered=tuple(rendered),
    )
