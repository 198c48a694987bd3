"""Property-based tests of the configuration loader (Hypothesis): whatever a careless edit does to
a valid configuration, loading ends in a `Platform` that renders, or in a `ConfigError` with at
least one message in the project's words, never in another exception; and `bin/build-templates`
exits 0 or 2 without a traceback and without touching the project's templates/.

Mutations start from the project's own configuration and change it at any depth: a value
replaced (wrong type, boundary number, empty, unicode or huge string, a table where a list
belongs and back), a key removed, an unknown key added, a value wrapped in a list.
"""

from __future__ import annotations

import copy
import hashlib
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from cfn import config, render
from tests import scale
from tests.conftest import _RAW, BIN, TEMPLATES

# Hypothesis keeps caches (unicode data, constants) in a directory: not in the project's tree.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "insightxi-hypothesis")

BOUNDARIES = [0, -1, 1, 2, 5, 10, 11, 65535, 65536, 50000, 50001, 2**31, 2**63 - 1, -(2**63)]
ODD_STRINGS = ["", " ", "é", "🚀", "\x00", "A" * 300, "x" * 100_000, "/", "*", "eu-wset-1"]

# Values TOML can hold (the subprocess test writes them to a file); None only in-process.
toml_scalars = st.one_of(
    st.booleans(),
    st.sampled_from(BOUNDARIES),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(ODD_STRINGS),
    st.text(max_size=12),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
any_values = st.one_of(st.none(), toml_values)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in the document: dictionary keys and list indices, at any depth."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _set(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


@st.composite
def mutated(draw: st.DrawFn, values: st.SearchStrategy[Any] = any_values) -> dict[str, Any]:
    doc = copy.deepcopy(_RAW)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from([p for p in _paths(doc) if p]))
        here = _get(doc, path)
        op = draw(st.sampled_from(["replace", "delete", "extra", "wrap", "reshape"]))
        if op == "replace":
            _set(doc, path, draw(values))
        elif op == "delete":
            parent = _get(doc, path[:-1])
            del parent[path[-1]]
        elif op == "extra" and isinstance(here, dict):
            here[draw(st.text(min_size=1, max_size=12))] = draw(values)
        elif op == "wrap":
            _set(doc, path, [here])
        else:  # a table where a list belongs, a list where a table belongs, a scalar for either
            if isinstance(here, dict):
                reshaped: Any = list(here.values())
            elif isinstance(here, list):
                reshaped = {str(i): v for i, v in enumerate(here)}
            else:
                reshaped = {"value": here}
            _set(doc, path, reshaped)
    return doc


# No example database: the tests write nothing into the project (a failure prints its example).
@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mutated())
def test_any_mutation_ends_in_a_platform_or_a_config_error(raw):
    try:
        platform = config.from_dict(raw)
    except config.ConfigError as exc:
        assert exc.problems
        for message in exc.problems:
            assert isinstance(message, str) and message.strip()
            assert "Input should" not in message  # pydantic's own wording never shows
            assert len(message) < 2000
    else:
        # Valid means renderable: nothing the check let through may fail while rendering.
        assert render.render(platform, [next(iter(platform.environments))])


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        h.update(str(path.relative_to(root)).encode())
        if path.is_file():
            h.update(path.read_bytes())
            h.update(str(path.stat().st_mtime_ns).encode())
    return h.hexdigest()


@settings(
    max_examples=6,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(raw=mutated(toml_values))
def test_build_templates_exits_0_or_2_without_traceback(raw, tmp_path_factory):
    text = scale.to_toml(raw)
    assert tomllib.loads(text) == raw  # the file says what the mutation made
    work = tmp_path_factory.mktemp("cfg")
    (work / "insightxi.toml").write_text(text, encoding="utf-8")
    before = _tree_digest(TEMPLATES)
    command = [sys.executable, str(BIN / "build-templates"), "--no-lint"]
    command += ["--config", str(work / "insightxi.toml"), "--out", str(work / "out")]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 2), result.stderr
    assert "Traceback" not in result.stderr
    if result.returncode == 2:
        assert "error: invalid configuration" in result.stderr
        assert not (work / "out").exists()
    assert _tree_digest(TEMPLATES) == before
