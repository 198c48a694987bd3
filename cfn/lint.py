"""cfn-lint in-process over rendered templates, with the project's own rules appended.

Speed, because the build runs on every save:
- cfn-lint is imported only when a template must really be linted (`--no-lint`, `--check`
  without lint, and a build whose every template is cached never import it);
- its rule set is built once per process (building it costs more than linting a template) and
  shared by every template, not rebuilt per template as `cfnlint.api.lint` does;
- templates are linted in worker processes forked after the rules are loaded, when there are
  enough of them to pay for the fork (on the 2-core machine here: 8 or more);
- the garbage collector is paused while cfn-lint loads (what it loads lives as long as the
  process) and collects young garbage less often while linting;
- a cold build forks a process that loads cfn-lint's rule set while the build renders, and
  lints there; 2 to 7 templates with cfn-lint loaded are split between this process and one
  fork (`cfn.lintfork`; `INSIGHTXI_LINT_FORK=0` turns both off, for debugging);
- findings are cached per template under `.cache/lint/` (or `$INSIGHTXI_CACHE_DIR/lint`),
  keyed by a hash of the template's text, the arguments cfn-lint's configuration is built from
  (the same dict `_config` passes to `ConfigMixIn`), any `.cfnlintrc` cfn-lint would read, the
  cfn-lint version, its resource-schema data (so `cfn-lint --update-specs` invalidates it) and
  the project rules' source; a cached result is the same list of findings an uncached run gives.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cfn import lintfork, paths
from cfn.lintinputs import cfnlintrc, schema_stamp

if TYPE_CHECKING:
    from cfn.render import RenderedTemplate

PROJECT_RULES_DIR = paths.RULES_DIR
PARALLEL_MIN_TEMPLATES = 8
LINT_GC_THRESHOLD = 10_000  # allocations between young collections while linting
_LEVELS = {"E": "error", "W": "warning", "I": "informational"}


@dataclass(frozen=True, order=True)
class Finding:
    """One cfn-lint match, reduced to what a person or a CI system needs."""

    path: str
    line: int
    column: int
    rule_id: str
    message: str
    line_end: int = 0
    column_end: int = 0
    # cfn-lint's own Match, for its formatters (SARIF, JUnit, ...); rebuilt when cached.
    match: Any = field(default=None, compare=False, repr=False, hash=False)

    @property
    def level(self) -> str:
        return _LEVELS.get(self.rule_id[:1], "error")

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.rule_id} {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in ("match", "path")}


def _config_args(region: str | None = None) -> dict[str, Any]:
    """The arguments of cfn-lint's configuration, as given to `ConfigMixIn` (and to the cache
    key): cfn-lint's default rules plus ours, as `cfn-lint --append-rules cfn/rules` loads them."""
    args: dict[str, Any] = {"append_rules": [str(PROJECT_RULES_DIR)]}
    if region is not None:
        args["regions"] = [region]
    return args


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside, and what it made frozen after. Loading cfn-lint and
    its rule set makes about 190,000 containers that live as long as the process (modules,
    classes, parsed schemas and policy data); each collection triggered while they pile up walks
    them all again: about a third of the rule set's build, for about 2 MB of garbage (kept)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        # Moved out of the collector's reach, as `_lint_many` does before linting, rather than
        # walked once more by the first collection after this (about 50 ms).
        gc.freeze()
        if was_enabled:
            gc.enable()


@lru_cache(maxsize=1)
def _rules() -> Any:
    with _collector_paused():
        from cfnlint.config import ConfigMixIn
        from cfnlint.runner import Runner

        from cfn import lintpatch

        lintpatch.apply()  # same findings, less CPU (see cfn/lintpatch.py)
        rules = Runner(ConfigMixIn([], **_config_args())).rules
        lintpatch.apply(rules=rules)  # and the patches of the rules this run loaded
        return rules


@lru_cache(maxsize=8)
def _config(region: str) -> Any:
    from cfnlint.config import ConfigMixIn

    return ConfigMixIn([], **_config_args(region))


def lint_text(path: str, text: str, region: str) -> list[Any]:
    """cfn-lint's own `Match` objects for one template text."""
    from cfnlint.decode.decode import decode_str
    from cfnlint.runner.template.runner import _run_template

    template, matches = decode_str(text)
    if matches:
        return [dataclasses.replace(m, filename=path) for m in matches]
    return list(_run_template(path, template, _config(region), _rules()))


def to_finding(match: Any) -> Finding:
    return Finding(
        path=match.filename or "",
        line=match.linenumber,
        column=match.columnnumber,
        rule_id=match.rule.id,
        message=match.message,
        line_end=match.linenumberend,
        column_end=match.columnnumberend,
        match=match,
    )


# -- cache ------------------------------------------------------------------------------------


@cache
def _rules_source_hash() -> str:
    h = hashlib.sha256()
    for path in sorted(PROJECT_RULES_DIR.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


@cache
def _settings_key() -> str:
    from importlib import metadata

    parts = {
        "cfn_lint": metadata.version("cfn-lint"),
        "schemas": schema_stamp(),
        "cfnlintrc": cfnlintrc(),
    }
    return json.dumps(parts, sort_keys=True)


def cache_key(text: str, region: str) -> str:
    """Everything that decides a template's findings, hashed."""
    parts = {
        "template": hashlib.sha256(text.encode()).hexdigest(),
        "config": _config_args(region),
        "settings": _settings_key(),
        "rules": _rules_source_hash(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _cache_read(cache_dir: Path, key: str) -> list[dict[str, Any]] | None:
    try:
        data = json.loads((cache_dir / key[:2] / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, list) else None


def _cache_write(cache_dir: Path, key: str, findings: list[dict[str, Any]]) -> None:
    from cfn.fsutil import atomic_write

    # A cache that cannot be written only costs time next run.
    with contextlib.suppress(OSError):
        atomic_write(cache_dir / key[:2] / f"{key}.json", json.dumps(findings))


# -- linting ----------------------------------------------------------------------------------


def _lint_one(text: str, region: str) -> list[dict[str, Any]]:
    return [to_finding(m).to_json() for m in lint_text("", text, region)]


def _lint_chunk(items: list[tuple[int, str, str]]) -> list[tuple[int, list[dict[str, Any]]]]:
    return [(i, _lint_one(text, region)) for i, text, region in items]


def _lint_many(items: list[tuple[int, str, str]], jobs: int) -> dict[int, list[dict[str, Any]]]:
    _rules()  # load before forking: every worker inherits the rule set
    # Everything alive now (cfn-lint, its schemas, the rules) is moved out of the collector's
    # reach: collections during linting do not walk it again, and a forked worker's do not
    # write to its pages (which would copy them into the worker). No collection first: with
    # cfn-lint loaded one costs about 0.1 s, more than the little garbage it would free.
    gc.freeze()
    # Linting makes a great many containers that live for one schema keyword or one template
    # (validators, contexts, paths, errors), a few of them in cycles; with a young collection
    # every 700 of them (the default) their collections cost about a twentieth of lint CPU,
    # every 10,000 next to nothing, for a few MB more at most (the workers inherit it).
    threshold = gc.get_threshold()
    gc.set_threshold(LINT_GC_THRESHOLD, *threshold[1:])
    try:
        if jobs <= 1 or len(items) < 2:
            return dict(_lint_chunk(items))
        if len(items) < PARALLEL_MIN_TEMPLATES:
            # Too few to pay for a pool, enough for one fork (about 13 ms with cfn-lint loaded)
            # when a core is idle to take it.
            if lintfork.enabled() and lintfork.core_free():
                return lintfork.lint_split(items, _lint_chunk)
            return dict(_lint_chunk(items))
        return _lint_forked(items, jobs)
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _lint_forked(items: list[tuple[int, str, str]], jobs: int) -> dict[int, list[dict[str, Any]]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # One template per task, largest first: a worker that finishes takes the next, so the
    # workers end within one (small) template of each other; with a few chunks per worker, the
    # last chunk could leave one core idle for a dozen templates (30 services: 105 templates in
    # 8 chunks; measured 2-5 % of the wall time). A task's round trip is well under 1 ms.
    ordered = sorted(items, key=lambda it: -len(it[1]))
    chunks = [[item] for item in ordered]
    context = multiprocessing.get_context("fork")
    pool = None
    try:
        pool = ProcessPoolExecutor(
            jobs, mp_context=context, initializer=lintfork.die_with_parent, initargs=(os.getpid(),)
        )
        with lintfork.interrupt_after():  # the workers are forked here: see there
            parts = pool.map(_lint_chunk, chunks)
        found = {i: found for part in parts for i, found in part}
    except OSError:
        # No pipe or no fork to be had (EMFILE, or EAGAIN at the user's process limit, ENOMEM):
        # lint here, as on one core, rather than end in a traceback.
        _abandon(pool)
        return dict(_lint_chunk(items))
    except BaseException:
        # Ctrl-C can land while the pool starts its manager thread; waiting for that thread
        # then raises RuntimeError over the KeyboardInterrupt (a traceback, exit 1). Stop the
        # workers without waiting and let the interrupt through.
        _abandon(pool)
        raise
    pool.shutdown(wait=True)
    return found


def _abandon(pool: Any) -> None:
    """Stop a pool's workers without waiting for them (see `_lint_forked`)."""
    if pool is not None:
        with contextlib.suppress(Exception):
            pool.shutdown(wait=False, cancel_futures=True)


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _cache_dir(cache_dir: Path | bool | None) -> Path | None:
    """`True`: the project's lint cache (`paths.lint_cache_dir()`, read at call time); `None`
    or `False`: none."""
    if cache_dir is True:
        return paths.lint_cache_dir()
    return cache_dir or None


def is_cached(template: RenderedTemplate, cache_dir: Path | bool | None = True) -> bool:
    """Whether the lint cache holds this template's findings (for the build to decide, while it
    renders, whether cfn-lint must be loaded at all); `lint` reads them."""
    where = _cache_dir(cache_dir)
    if where is None:
        return False
    key = cache_key(template.text, template.region)
    return (where / key[:2] / f"{key}.json").is_file()


def lint(
    templates: Sequence[RenderedTemplate],
    base: str = "templates",
    *,
    cache_dir: Path | bool | None = True,
    jobs: int | None = None,
) -> list[Finding]:
    """Every finding on every template, sorted by file, line and rule.

    `cache_dir=True` is the project's lint cache (`paths.lint_cache_dir()`, read at call time);
    `None` or `False` bypasses the cache (neither read nor written).
    """
    cache_dir = _cache_dir(cache_dir)
    results: dict[int, list[dict[str, Any]]] = {}
    keys: dict[int, str] = {}
    todo: list[tuple[int, str, str]] = []
    for i, t in enumerate(templates):
        if cache_dir is not None:
            keys[i] = cache_key(t.text, t.region)
            cached = _cache_read(cache_dir, keys[i])
            if cached is not None:
                results[i] = cached
                continue
        todo.append((i, t.text, t.region))
    if not todo:
        lintfork.stop()  # a lint parent started ahead has nothing to do
    else:
        jobs = jobs or default_jobs()
        fresh = lintfork.lint_ahead(todo, jobs)
        if fresh is None:  # none started ahead (or it failed): lint here
            fresh = _lint_many(todo, jobs)
        for i, found in fresh.items():
            results[i] = found
            if cache_dir is not None:
                _cache_write(cache_dir, keys[i], found)
    findings = [
        Finding(path=f"{base}/{templates[i].path}", **f)
        for i in range(len(templates))
        for f in results[i]
    ]
    return sorted(findings)
