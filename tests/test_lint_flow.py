"""cfn-lint's work in forks (`cfn.lintfork`): a lint parent started ahead by a cold build, and a
small batch split between the build and one fork. Same findings as linting in the build's own
process, the same output, nothing left running on any path (done, failed, killed, Ctrl-C)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cfn import lint, lintfork, naming
from cfn.render import RenderedTemplate
from tests.conftest import PROJECT_ROOT, alive, copy_project, descendants

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork, /proc")

# A project rule added to a copy of the project: a finding on every service template, so that
# a full build prints findings (and exits 1) through the CLI.
PROBE_RULE = '''
"""W9990: a probe finding on every ECS service (test only)."""
from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn.rules._resolve import resources


class FlowProbe(CloudFormationLintRule):
    id = "W9990"
    shortdesc = "Probe"
    description = "A finding on every ECS service, for the lint flow tests."
    tags = ["test"]

    def match(self, cfn):
        return [
            RuleMatch(["Resources", name], f"probe on {name}")
            for name, _ in resources(cfn.template, "AWS::ECS::Service")
        ]
'''


def _broken(rendered: list[RenderedTemplate]) -> list[RenderedTemplate]:
    """Templates with findings: schema errors in one, text that is not JSON in another."""
    network_file = naming.template_file(naming.NETWORK)
    network = next(r for r in rendered if r.filename == network_file)
    t = json.loads(network.text)
    t["Resources"]["Vpc"]["Properties"]["CidrBlock"] = 42
    t["Resources"]["Vpc"]["Properties"]["Nonsense"] = True
    wrong = json.dumps(t, indent=2, sort_keys=True) + "\n"
    return [
        RenderedTemplate(network.env, "wrong.json", wrong, network.region),
        RenderedTemplate(
            network.env, "cut.json", network.text[: len(network.text) // 2], network.region
        ),
    ]


def _none_left(pids: set[int], timeout: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout
    while any(map(alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [p for p in pids if alive(p)]
    for p in left:
        with contextlib.suppress(OSError):
            os.kill(p, signal.SIGKILL)
    return left


def _env(fork: str, cache: Path) -> dict[str, str]:
    return dict(
        os.environ,
        INSIGHTXI_LINT_FORK=fork,
        INSIGHTXI_BUILD_SERVER="0",
        INSIGHTXI_CACHE_DIR=str(cache),
    )


# -- in a new process, as a cold build: the lint parent started ahead --------------------------

AHEAD_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    from cfn import config, lint, lintfork, render
    lintfork.prestart()
    started = lintfork._ahead is not None
    if sys.argv[1] == "kill" and started:
        os.kill(lintfork._ahead.pid, signal.SIGKILL)  # it dies before it is asked
    rendered = render.render(config.load())
    extra = [render.RenderedTemplate(**t) for t in json.loads(sys.stdin.read())]
    found = lint.lint([*extra, *rendered][: int(sys.argv[2])], cache_dir=None)
    print(json.dumps({
        "started": started,
        "loaded_here": "cfnlint" in sys.modules,
        "loaded": lintfork.cfnlint_loaded(),
        "findings": [[f.path, *f.to_json().values()] for f in found],
        "children": open(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read().split(),
    }))
    """
)


def _lint_in_new_process(how: str, count: int, broken: list[RenderedTemplate]) -> dict:
    extra = [dataclasses.asdict(b) for b in broken]
    fork = "0" if how == "off" else "1"
    r = subprocess.run(
        [sys.executable, "-c", AHEAD_SCRIPT, how, str(count)],
        input=json.dumps(extra),
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=dict(os.environ, INSIGHTXI_LINT_FORK=fork),
        timeout=300,
    )
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return json.loads(r.stdout)


def test_a_lint_parent_started_ahead_finds_what_the_build_finds_itself(rendered):
    broken = _broken(rendered)
    everything = len(rendered) + len(broken)
    here = _lint_in_new_process("off", everything, broken)
    assert not here["started"] and here["loaded_here"]
    assert {f[3] for f in here["findings"]} >= {"E0000"}  # the cut template
    assert any(f[0].endswith("wrong.json") for f in here["findings"])
    ahead = _lint_in_new_process("ahead", everything, broken)
    # Linted in the lint parent (its workers), cfn-lint never loaded in the build's process.
    assert ahead["started"] and not ahead["loaded_here"] and ahead["loaded"]
    assert ahead["findings"] == here["findings"]
    assert ahead["children"] == []  # reaped


def test_a_lint_parent_that_died_is_replaced_by_linting_here(rendered):
    broken = _broken(rendered)
    here = _lint_in_new_process("off", len(rendered) + len(broken), broken)
    died = _lint_in_new_process("kill", len(rendered) + len(broken), broken)
    assert died["started"] and died["loaded_here"]
    assert died["findings"] == here["findings"]


def test_a_small_batch_in_the_lint_parent_is_split_there_with_the_same_findings(rendered):
    broken = _broken(rendered)
    count = lint.PARALLEL_MIN_TEMPLATES - 1
    here = _lint_in_new_process("off", count, broken[::-1])
    ahead = _lint_in_new_process("ahead", count, broken[::-1])
    assert ahead["started"] and not ahead["loaded_here"]
    assert ahead["findings"] == here["findings"] and ahead["findings"]


# -- in this process, cfn-lint loaded: the split ------------------------------------------------


def _items(rendered: list[RenderedTemplate], n: int) -> list[tuple[int, str, str]]:
    chosen = [*_broken(rendered), *rendered][:n]
    return [(i, t.text, t.region) for i, t in enumerate(chosen)]


@pytest.mark.parametrize("n", [2, 3, lint.PARALLEL_MIN_TEMPLATES - 1])
def test_a_split_batch_has_the_findings_of_a_serial_one(rendered, monkeypatch, tmp_path, n):
    items = _items(rendered, n)
    monkeypatch.setenv(lintfork.ENV_SWITCH, "0")
    serial = lint._lint_many(items, 2)
    monkeypatch.setenv(lintfork.ENV_SWITCH, "1")
    me = os.getpid()
    before = descendants(me)
    log = tmp_path / "pids"
    lint_chunk = lint._lint_chunk

    def chunk(part):
        with log.open("a") as fh:
            fh.write(f"{os.getpid()} {len(part)}\n")
        return lint_chunk(part)

    monkeypatch.setattr(lint, "_lint_chunk", chunk)
    monkeypatch.setattr(lintfork, "core_free", lambda: True)  # the other core idle
    split = lint._lint_many(items, 2)
    assert split == serial and any(serial.values())
    sides = dict(line.split() for line in log.read_text().splitlines())
    assert len(sides) == 2 and str(me) in sides  # half here, half in a fork
    assert sum(map(int, sides.values())) == n
    assert _forks_since(me, before) == set()
    # Every core busy: all here, in one go.
    log.unlink()
    monkeypatch.setattr(lintfork, "core_free", lambda: False)
    assert lint._lint_many(items, 2) == serial
    assert log.read_text() == f"{me} {n}\n"


def _forks_since(pid: int, before: set[int]) -> set[int]:
    return {p for p in descendants(pid) - before if alive(p)}


def test_a_split_whose_fork_dies_lints_its_half_here(rendered):
    items = _items(rendered, 4)
    me = os.getpid()
    before = descendants(me)

    def chunk(part):
        if os.getpid() != me:
            os._exit(3)  # the fork dies without an answer
        return lint._lint_chunk(part)

    assert lintfork.lint_split(items, chunk) == dict(lint._lint_chunk(items))
    assert _forks_since(me, before) == set()


def test_a_core_is_free_when_fewer_tasks_run_than_there_are_cores(monkeypatch):
    cores = len(os.sched_getaffinity(0))
    real_open = open

    def loadavg(running: int):
        def fake(path, *args, **kwargs):
            if path == "/proc/loadavg":
                return io.BytesIO(f"0.50 0.40 0.30 {running}/90 4242\n".encode())
            return real_open(path, *args, **kwargs)

        return fake

    monkeypatch.setattr("builtins.open", loadavg(cores - 1))
    assert lintfork.core_free()
    monkeypatch.setattr("builtins.open", loadavg(cores))
    assert not lintfork.core_free()


def test_the_halves_are_balanced_by_size():
    items = [(i, "x" * size, "r") for i, size in enumerate([50, 40, 30, 20, 10])]
    mine, theirs = lintfork.halves(items)
    assert sorted(mine + theirs) == items
    assert abs(sum(len(t) for _, t, _ in mine) - sum(len(t) for _, t, _ in theirs)) <= 10
    assert lintfork.halves(items[:2]) == ([items[0]], [items[1]])


# -- bin/build-templates ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def probed(tmp_path_factory) -> Path:
    project = copy_project(tmp_path_factory.mktemp("flow") / "project")
    (project / "cfn" / "rules" / "FlowProbe.py").write_text(PROBE_RULE)
    return project


def _build(project: Path, fork: str, cache: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(project / "bin" / "build-templates"), "--check", *args],
        capture_output=True,
        text=True,
        cwd=project,
        env=_env(fork, cache),
        timeout=300,
    )


def _steady(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.endswith(" s"))


def test_a_cold_build_prints_the_same_with_and_without_the_lint_parent(probed, tmp_path):
    runs = {fork: _build(probed, fork, tmp_path / fork) for fork in ("0", "1")}
    assert runs["0"].returncode == 1, runs["0"].stderr  # the probe's findings
    assert "W9990" in runs["0"].stdout + runs["0"].stderr
    assert runs["1"].returncode == runs["0"].returncode
    assert runs["1"].stdout == runs["0"].stdout
    assert _steady(runs["1"].stderr) == _steady(runs["0"].stderr)
    # The lint cache it wrote answers a build without the lint parent: the same findings.
    again = _build(probed, "0", tmp_path / "1")
    assert again.stdout == runs["0"].stdout


def _start_cold_build(project: Path, out: Path, cache: Path) -> tuple[subprocess.Popen, set[int]]:
    """A cold build, once its lint workers run (grandchildren: the lint parent forked them)."""
    process = subprocess.Popen(
        [sys.executable, str(project / "bin" / "build-templates"), "--no-cache", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=project,
        env=_env("1", cache),
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    seen: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError):
            direct = {int(p) for p in children.read_text().split()}
            seen = descendants(process.pid)
            if len(seen - direct) >= 2:
                return process, seen
        time.sleep(0.02)
    process.kill()
    pytest.fail(f"the build never started lint workers in its lint parent: {seen}")


def test_a_cold_build_killed_while_linting_leaves_no_process_behind(probed, tmp_path):
    process, forks = _start_cold_build(probed, tmp_path / "out", tmp_path / "cache")
    process.send_signal(signal.SIGTERM)  # as a CI runner stops it
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGTERM
    assert _none_left(forks) == [], "the lint parent or its workers outlived the build"


def test_ctrl_c_while_the_lint_parent_lints_is_an_interrupt(probed, tmp_path):
    process, forks = _start_cold_build(probed, tmp_path / "out", tmp_path / "cache")
    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group gets it
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted: ")
    assert "Traceback" not in stderr
    assert _none_left(forks) == []


def test_a_build_that_fails_before_linting_stops_the_lint_parent(tmp_path):
    bad = tmp_path / "insightxi.toml"
    bad.write_text("not = [valid")
    code = textwrap.dedent(
        f"""
        import os, pathlib
        from cfn import build, config
        try:
            build.run(build.BuildRequest(config_path=pathlib.Path({str(bad)!r})))
        except config.ConfigError:
            pass
        print(open(f"/proc/{{os.getpid()}}/task/{{os.getpid()}}/children").read().split())
        """
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60
    )
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert r.stdout.splitlines()[-1] == "[]"  # no child: stopped and reaped


# A build in a process that cannot fork (EAGAIN: the user's process limit, say): with the lint
# parent and the split, as without them. Neither worked then, so a fork is never needed.
NO_FORK_SCRIPT = textwrap.dedent(
    """
    import errno, os, sys
    from cfn import lintfork
    from cfn.cli import build

    def no_fork():
        with open(os.environ["FORK_TRIES"], "a") as fh:
            fh.write("fork\\n")
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    os.fork = no_fork
    lintfork.core_free = lambda: True  # a split is tried
    sys.exit(build.run(sys.argv[1:]))
    """
)


def test_a_build_that_cannot_fork_lints_in_its_own_process(probed, tmp_path):
    cache = tmp_path / "cache"
    serial = _build(probed, "0", cache)
    assert serial.returncode == 1 and "W9990" in serial.stdout + serial.stderr
    entries = sorted((cache / "lint").rglob("*.json"))
    assert len(entries) >= 3
    for entry in entries[:3]:  # three to lint: a small batch, split when a fork can be had
        entry.unlink()
    assert _forks_tried_without_fork(probed, cache, tmp_path, serial) == 2  # lint parent, split


def _script(
    code: str, project: Path, cache: Path, *args: str, **env: str
) -> subprocess.CompletedProcess:
    """`python -c code *args` in `project`, lint forks on, lint cache in `cache`, `env` added;
    it must end without a traceback."""
    r = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=project,
        env=dict(_env("1", cache), **env),
        timeout=300,
    )
    assert "Traceback" not in r.stderr, r.stderr
    return r


def _forks_tried_without_fork(
    project: Path, cache: Path, tmp_path: Path, reference: subprocess.CompletedProcess
) -> int:
    """`--check` in a process that cannot fork (NO_FORK_SCRIPT): its output must be the
    reference's, without a traceback; the number of forks it tried."""
    tries = tmp_path / "tries"
    r = _script(NO_FORK_SCRIPT, project, cache, "--check", FORK_TRIES=str(tries))
    assert r.returncode == reference.returncode
    assert r.stdout == reference.stdout
    assert _steady(r.stderr) == _steady(reference.stderr)
    return tries.read_text().count("fork")


# A build run as the CLI runs it; how many lint parents it started ("started"), whether each
# started before the configuration's modules were imported ("early"), and whether one linted.
CLI_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from cfn import lintfork
    from cfn.cli import build

    early, prestart = [], lintfork.prestart

    def counted():
        idle = lintfork._ahead is None
        prestart()
        if idle and lintfork._ahead is not None:
            early.append(not {"pydantic", "troposphere", "cfn.config"} & set(sys.modules))

    lintfork.prestart = counted
    status = build.run(sys.argv[1:])
    with open(os.environ["AHEAD_OUT"], "w") as fh:
        found = {"status": status, "started": len(early), "ahead": lintfork._loaded_ahead}
        json.dump({**found, "early": early}, fh)
    """
)


def _cli(project: Path, cache: Path, out: Path, *args: str) -> dict:
    """`bin/build-templates --check *args` in `project` (CLI_SCRIPT), lint cache in `cache`."""
    _script(CLI_SCRIPT, project, cache, "--check", *args, AHEAD_OUT=str(out))
    return json.loads(out.read_text())


def test_lint_format_loads_cfn_lint_once_in_the_build_itself(probed, tmp_path):
    """--lint-format formats the findings with cfn-lint's formatters and rule set, in the build's
    process, after the build: a lint parent would have loaded them a second time (measured: a
    cold `--check --lint-format sarif` 3.0 s without the lint parent, 3.7 s with it)."""

    def cli(name: str, *args: str) -> dict:
        return _cli(probed, tmp_path / name, tmp_path / f"{name}.json", *args)

    # The probe's findings, linted ahead.
    assert cli("plain") == {"status": 1, "started": 1, "ahead": True, "early": [True]}
    findings = tmp_path / "findings.sarif"
    assert cli("formatted", "--lint-format", "sarif", "--lint-out", str(findings)) == {
        "status": 1,
        "started": 0,
        "ahead": False,
        "early": [],
    }
    assert "W9990" in findings.read_text()


# --watch, until the first rebuild (or the warm-up, with "first"); how many lint parents it
# forked, and whether cfn-lint was loaded in its own process then.
WATCH_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    from cfn import build, watch

    how, cfg, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    good = cfg.read_text()
    if how == "broken":
        cfg.write_text(good + "\\nnot = [valid\\n")
    fork, ahead = os.fork, []

    def counted():
        if sys._getframe(2).f_code.co_name == "prestart":  # cfn.lintfork's lint parent
            ahead.append(1)
        return fork()

    def fixed(self):
        cfg.write_text(good)

    def seen(*args):
        print(json.dumps({"ahead": len(ahead), "loaded_here": "cfnlint" in sys.modules}))
        raise KeyboardInterrupt

    os.fork = counted
    watch.Wakeup.wait = fixed
    rebuild = watch._rebuild
    watch._rebuild = lambda *args: seen(rebuild(*args))
    if how == "first":
        watch._warm_up = seen
    request = build.BuildRequest(envs=("dev",), config_path=cfg, out_dir=out, docs=False)
    watch.run(request)
    """
)


@pytest.mark.parametrize("how", ["first", "broken"])
def test_watch_loads_cfn_lint_in_its_own_process_and_forks_no_lint_parent(tmp_path, how):
    """The watch process loads cfn-lint anyway (its warm-up after the first build, then the
    rebuilds): a lint parent would load it a second time, beside it; and after a first build
    that failed (`broken`: no warm-up), it would do so again on every save."""
    config = tmp_path / "insightxi.toml"
    config.write_text((PROJECT_ROOT / "cfn" / "insightxi.toml").read_text())
    r = subprocess.run(
        [sys.executable, "-c", WATCH_SCRIPT, how, str(config), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=_env("1", tmp_path / "cache"),
        timeout=300,
    )
    assert "Traceback" not in r.stderr, r.stderr
    assert ("not valid TOML" in r.stderr) == (how == "broken")
    assert json.loads(r.stdout.splitlines()[-1]) == {"ahead": 0, "loaded_here": True}


def test_the_lint_parent_starts_only_when_the_lint_cache_misses(probed, tmp_path):
    """A build whose every finding is cached never loads cfn-lint: it forks no lint parent
    (one would have spent about 0.15 s of CPU loading cfn-lint before being stopped). At the
    first template the cache does not answer, one starts and lints what is missing."""
    cache = tmp_path / "cache"

    def cli(name: str) -> dict:
        return _cli(probed, cache, tmp_path / f"{name}.json")

    # An empty cache: every template is linted, so it starts before anything is rendered (the
    # configuration's modules not imported yet), and loads cfn-lint beside that work.
    assert cli("cold") == {"status": 1, "started": 1, "ahead": True, "early": [True]}
    assert cli("cached") == {"status": 1, "started": 0, "ahead": False, "early": []}
    entries = sorted((cache / "lint").rglob("*.json"))
    entries[len(entries) // 2].unlink()  # one template's findings forgotten
    # At the first template the cache does not answer (after the configuration was loaded).
    assert cli("one") == {"status": 1, "started": 1, "ahead": True, "early": [False]}
    assert len(sorted((cache / "lint").rglob("*.json"))) == len(entries)  # cached again
    # --no-cache: the cache is not read, every template is linted: started before rendering.
    no_cache = _cli(probed, cache, tmp_path / "no-cache.json", "--no-cache")
    assert no_cache == {"status": 1, "started": 1, "ahead": True, "early": [True]}


def test_a_build_that_cannot_fork_its_lint_workers_lints_in_its_own_process(probed, tmp_path):
    """Enough templates for the worker pool (a cold build), no fork to be had: the lint parent
    cannot start, nor can the pool's first worker; the build lints in its own process, with the
    output of a build that could."""
    reference = _build(probed, "0", tmp_path / "reference")
    assert reference.returncode == 1 and "W9990" in reference.stdout + reference.stderr
    # The lint parent, then the pool's first worker.
    assert _forks_tried_without_fork(probed, tmp_path / "cache", tmp_path, reference) == 2
