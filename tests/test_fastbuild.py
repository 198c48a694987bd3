"""The no-change fast path (`cfn.fastbuild`): its shortcut of trusting a file's status instead of
reading it is taken only when that is sound, an edit that keeps a file's size and modification
time is still seen, and every input of a record (package source, configuration, templates,
installed dependencies, `.cfnlintrc`) makes it stale when it changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cfn import fastbuild, paths
from tests.conftest import copy_project

REPLAYED = "(the same inputs as an earlier clean build: its result; --no-cache rebuilds)"
CHECK = ["--check", "--no-lint"]


def settle() -> None:
    """Wait until a file changed now has a status the fast path trusts."""
    time.sleep(fastbuild.SETTLED_NS / 1e9 + 0.1)


def keep_times_and_edit(path: Path, old: str, new: str) -> None:
    """Replace `old` by `new` (same length) in the file, then put its old access and
    modification times back: only its change time (which no program can set) tells."""
    assert len(old) == len(new) and old != new
    before = path.stat()
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


# -- the status shortcut, one file at a time --------------------------------------------------


def test_a_young_files_status_is_not_trusted(tmp_path):
    path = tmp_path / "f"
    path.write_text("one")
    assert fastbuild._entry(str(path)) == [fastbuild._sha256(b"one")]
    assert fastbuild._entry(str(tmp_path / "absent")) == [None]


def test_a_settled_status_is_trusted_without_reading_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(fastbuild, "SETTLED_NS", 50_000_000)
    path = tmp_path / "f"
    path.write_text("one")
    time.sleep(0.1)
    entry = fastbuild._entry(str(path))
    assert len(entry) == 6, "the status is stored with the hash"
    monkeypatch.setattr(fastbuild, "_sha256", lambda data: pytest.fail("read the file"))
    assert fastbuild._unchanged(str(path), entry, {})


def test_an_edit_that_keeps_size_and_modification_time_is_seen(tmp_path, monkeypatch):
    monkeypatch.setattr(fastbuild, "SETTLED_NS", 50_000_000)
    path = tmp_path / "f"
    path.write_text("max_count = 4\n")
    time.sleep(0.1)
    entry = fastbuild._entry(str(path))
    assert len(entry) == 6
    keep_times_and_edit(path, "4", "5")
    assert not fastbuild._unchanged(str(path), entry, {})
    # Put back as it was (bytes and times): the content is what the entry says again.
    keep_times_and_edit(path, "5", "4")
    refreshed: dict[str, list] = {}
    assert fastbuild._unchanged(str(path), entry, refreshed)
    assert refreshed == {}, "a status younger than SETTLED_NS is not stored"


def test_a_file_found_unchanged_by_its_hash_gets_its_settled_status_stored(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_text("one")
    entry = fastbuild._entry(str(path))
    assert len(entry) == 1
    monkeypatch.setattr(fastbuild, "SETTLED_NS", 50_000_000)
    time.sleep(0.1)
    refreshed: dict[str, list] = {}
    assert fastbuild._unchanged(str(path), entry, refreshed)
    assert refreshed[str(path)][0] == entry[0] and len(refreshed[str(path)]) == 6


@pytest.mark.parametrize(
    ("entry_of", "change"),
    [
        ("absent", lambda p: p.write_text("new")),  # a file appears (a .cfnlintrc)
        ("present", lambda p: p.unlink()),  # a file goes away
        ("present", lambda p: p.write_text("two")),  # same size, new content
    ],
)
def test_appearing_vanishing_and_rewritten_files_are_changes(tmp_path, entry_of, change):
    path = tmp_path / "f"
    if entry_of == "present":
        path.write_text("one")
    entry = fastbuild._entry(str(path))
    assert fastbuild._unchanged(str(path), entry, {})
    change(path)
    assert not fastbuild._unchanged(str(path), entry, {})


# -- whole records, through bin/build-templates -----------------------------------------------


@pytest.fixture
def project(tmp_path):
    """A copy of the project as a clean clone has it: bin/, cfn/, templates/, docs/, README."""
    return copy_project(tmp_path / "project")


def build(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(project / "bin" / "build-templates"), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )


def record_of(project: Path, monkeypatch, argv: list[str]) -> dict:
    monkeypatch.chdir(project)
    return json.loads(Path(fastbuild._record(argv)).read_text())


def test_edits_that_keep_size_and_times_are_never_answered_from_the_record(
    project, platform, monkeypatch
):
    env = next(iter(platform.environments))
    assert build(project, *CHECK).returncode == 0
    settle()
    assert REPLAYED in build(project, *CHECK).stderr  # and stores the settled statuses
    files = record_of(project, monkeypatch, CHECK)["files"]
    template = project / "templates" / env / "edge.json"
    module = project / "cfn" / "stacks" / "edge.py"
    assert len(files[str(template)]) == len(files[str(module)]) == 6, "statuses are trusted"
    again = build(project, *CHECK)
    assert REPLAYED in again.stderr and again.returncode == 0

    keep_times_and_edit(template, '"Resources"', '"Resourcez"')
    r = build(project, *CHECK)
    assert r.returncode == 1 and REPLAYED not in r.stderr
    assert f"templates/{env}/edge.json: differs" in r.stdout
    keep_times_and_edit(template, '"Resourcez"', '"Resources"')
    assert REPLAYED in build(project, *CHECK).stderr

    # A stack module: the build runs again (the edit is a comment: its result is the same).
    comment = next(x for x in module.read_text().splitlines() if x.lstrip().startswith("# "))
    keep_times_and_edit(module, comment, comment[:-1] + ("x" if comment[-1] != "x" else "y"))
    r = build(project, *CHECK)
    assert r.returncode == 0 and REPLAYED not in r.stderr, r.stderr


def test_a_new_source_file_or_a_cfnlintrc_makes_the_record_stale(project):
    for add in (project / "cfn" / "stacks" / "extra_module.py", project / ".cfnlintrc"):
        assert build(project, *CHECK).returncode == 0
        assert REPLAYED in build(project, *CHECK).stderr
        add.write_text("# added\n" if add.suffix == ".py" else "ignore_checks: []\n")
        r = build(project, *CHECK)
        assert r.returncode == 0 and REPLAYED not in r.stderr, r.stderr


def test_another_installed_dependency_makes_the_record_stale(project, monkeypatch):
    assert build(project, *CHECK).returncode == 0
    monkeypatch.chdir(project)
    monkeypatch.setattr(paths, "PACKAGE_DIR", project / "cfn")
    assert fastbuild.answer(CHECK) == 0, "the record answers this process as well"
    real = fastbuild._installed
    monkeypatch.setattr(
        fastbuild, "_installed", lambda n: real(n) + (":upgraded" if n == "troposphere" else "")
    )
    assert fastbuild.answer(CHECK) is None
    monkeypatch.setattr(fastbuild, "_installed", real)
    monkeypatch.setattr(fastbuild.lintinputs, "schema_stamp", lambda: "newer schemas")
    assert fastbuild.answer(CHECK) is None


def test_custom_endpoint_data_makes_the_record_stale(project, platform, tmp_path):
    """botocore reads endpoint data from $AWS_DATA_PATH before its own (the regions a
    configuration may name, `cfn.awsregions`): endpoint data without the environment's region
    makes the configuration invalid, so the clean result recorded without it must not answer."""
    import botocore

    region = next(iter(platform.environments.values())).region
    data = json.loads((Path(botocore.__file__).parent / "data" / "endpoints.json").read_text())
    for partition in data["partitions"]:
        partition["services"].get("ecs", {}).get("endpoints", {}).pop(region, None)
    custom = tmp_path / "aws-data"
    custom.mkdir()
    (custom / "endpoints.json").write_text(json.dumps(data))
    assert build(project, *CHECK).returncode == 0
    assert REPLAYED in build(project, *CHECK).stderr
    r = subprocess.run(
        [sys.executable, str(project / "bin" / "build-templates"), *CHECK],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "AWS_DATA_PATH": str(custom)},
    )
    assert REPLAYED not in r.stderr
    assert r.returncode == 2 and region in r.stderr, r.stderr


def test_no_cache_never_stores_nor_replays(project):
    assert build(project, *CHECK).returncode == 0
    for _ in range(2):
        r = build(project, *CHECK, "--no-cache")
        assert r.returncode == 0 and REPLAYED not in r.stderr


def test_a_replay_prints_what_the_full_build_printed(project):
    for args in (CHECK, ["--no-lint"], ["--no-lint", "--output", "json"]):
        full = build(project, *args)
        again = build(project, *args)
        assert REPLAYED in again.stderr and REPLAYED not in full.stderr
        assert again.stdout == full.stdout and again.returncode == full.returncode == 0
        # stderr: the same lines, but for the "replayed" note and the seconds it took
        *full_lines, full_closing = full.stderr.splitlines()
        *lines, closing = again.stderr.splitlines()
        assert [x for x in lines if x != REPLAYED] == full_lines
        assert closing.rsplit(",", 1)[0] == full_closing.rsplit(",", 1)[0]


def test_a_corrupt_record_means_a_full_build(project, monkeypatch):
    assert build(project, *CHECK).returncode == 0
    monkeypatch.chdir(project)
    record = Path(fastbuild._record(CHECK))
    for broken in ("", "{", "[]", json.dumps({"format": fastbuild.FORMAT})):
        record.write_text(broken)
        r = build(project, *CHECK)
        assert r.returncode == 0 and REPLAYED not in r.stderr and "Traceback" not in r.stderr


HEAVY = (
    "click",
    "pydantic",
    "troposphere",
    "awacs",
    "cfnlint",
    "botocore",
    "cfn.lint",
    "cfn.summary",
)


def test_a_replay_imports_none_of_the_build(project):
    """What makes it quick: answered before click, pydantic, troposphere or cfn-lint load."""
    assert build(project, *CHECK).returncode == 0
    heavy = f"m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r}"
    show = f"print(sorted(m for m in sys.modules if {heavy}), file=sys.stderr)"
    run = (
        f"import atexit, runpy, sys; atexit.register(lambda: {show}); "
        f"sys.argv = ['bin/build-templates', *{CHECK!r}]; "
        "runpy.run_path('bin/build-templates', run_name='__main__')"
    )
    r = subprocess.run(
        [sys.executable, "-c", run], cwd=project, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0 and REPLAYED in r.stderr, r.stderr
    assert r.stderr.rstrip().splitlines()[-1] == "[]"
