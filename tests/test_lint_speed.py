"""Lint speed-ups never change findings: with and without each of them, cfn-lint (and the
project's rules) report the same findings, at the same places, over every rendered template of
every environment, the rule tests' broken templates, and rendered templates broken on purpose."""

from __future__ import annotations

import copy
import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cfn import config, lint, lintpatch, naming, render, watch
from cfn.render import RenderedTemplate
from cfn.summary import BuildResult
from tests.conftest import copy_project

FIXTURES = Path(__file__).parent / "fixtures" / "rules"


def _break(template: dict[str, Any]) -> dict[str, Any]:
    """The template with a few errors of the kinds cfn-lint's schema checks report: a wrong type,
    an unknown property, a missing required property, a Ref and a GetAtt to nothing, an unknown
    condition, property values of the wrong kind, too long, out of range, unresolvable, not in
    their enums, under conditions; each on a different resource."""
    t = copy.deepcopy(template)
    resources = list(t["Resources"].values())
    first = next(iter(t["Resources"]))
    mutations = [
        lambda r: r.setdefault("Properties", {}).update({"NoSuchProperty": True}),
        lambda r: r.update({"Properties": {}}),
        lambda r: r.setdefault("Properties", {}).update(
            {k: 12345 for k, v in r.get("Properties", {}).items() if isinstance(v, str)}
        ),
        lambda r: r.update({"Condition": "NoSuchCondition"}),
        lambda r: r.setdefault("Metadata", {}).update(
            {"x": {"Ref": "NoSuchThing"}, "y": {"Fn::GetAtt": ["NoSuch", "Arn"]}}
        ),
        # Checks cfn-lint runs through its keyword rules (E1101's children): types, lengths,
        # ranges, patterns, functions' arguments.
        lambda r: _each_scalar(r, lambda v: {"Not": "a scalar"}),
        lambda r: _each_scalar(r, lambda v: "x" * 3000 + "\n!" if isinstance(v, str) else -7),
        lambda r: _each_scalar(
            r, lambda v: {"Fn::Sub": "${NoSuchVariable}"} if isinstance(v, str) else "many"
        ),
        lambda r: _each_scalar(r, lambda v: {"Fn::GetAtt": [first, "NoSuchAttribute"]}),
        # Values out of their enums (and strings CloudFormation reads as booleans); values
        # under conditions, known, unknown and ill-formed, with AWS::NoValue in them.
        lambda r: _each_scalar(r, lambda v: "NotOneOfThem" if isinstance(v, str) else "false"),
        lambda r: _each_scalar(r, lambda v: "True" if isinstance(v, str) else "no"),
        lambda r: _each_property(r, lambda v: {"Fn::If": ["IsProd", v, {"Ref": "AWS::NoValue"}]}),
        lambda r: _each_property(
            r, lambda v: [{"Fn::If": ["NoSuchCondition", v, v]}, {"Fn::If": ["IsProd", v]}]
        ),
    ]
    t["Conditions"] = {"IsProd": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}}
    for resource, mutate in zip(resources, mutations, strict=False):
        mutate(resource)
    return t


def _each_property(resource: dict[str, Any], new: Any) -> None:
    """Each top-level property of the resource replaced by `new(value)`."""
    properties = resource.get("Properties", {})
    resource["Properties"] = {k: new(v) for k, v in properties.items()}


def _each_scalar(resource: dict[str, Any], new: Any) -> None:
    """Each string, number and boolean property of the resource (at any depth, not in a
    function's arguments) replaced by `new(value)`."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref")):
                return value
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return new(value)

    resource["Properties"] = walk(resource.get("Properties", {}))


@pytest.fixture(scope="module")
def corpus(rendered: list[RenderedTemplate]) -> list[RenderedTemplate]:
    """Every rendered template, four of one environment's broken on purpose, and the rule
    tests' fixtures."""
    first_env = rendered[0].env
    broken = [
        RenderedTemplate(
            r.env,
            f"broken-{r.filename}",
            json.dumps(_break(json.loads(r.text)), indent=2, sort_keys=True) + "\n",
            r.region,
        )
        # The first four kinds (network, edge, cluster, a service): broken ones are slow to lint.
        for r in [r for r in rendered if r.env == first_env][:4]
    ]
    fixtures = [
        RenderedTemplate("fixtures", p.name, p.read_text(), "eu-west-1")
        for p in sorted(FIXTURES.glob("*.yaml"))
    ]
    return [*rendered, *broken, *fixtures]


def _findings(corpus: list[RenderedTemplate]) -> list[tuple[Any, ...]]:
    found = lint.lint(corpus, cache_dir=None)
    return [
        (f.path, f.line, f.column, f.line_end, f.column_end, f.rule_id, f.message) for f in found
    ]


def test_the_patches_give_the_same_findings(corpus, rendered):
    """Every patch applied, then none: the same findings (rule, message, place) on the corpus."""
    first_env = rendered[0].env
    lint._rules()  # loads the rules and applies the patches
    from cfnlint.jsonschema import validators

    try:
        assert lintpatch.apply(), "the installed cfn-lint is the pinned one: the patches apply"
        assert lintpatch.applied() == {p.name for p in lintpatch.patches()}
        patched = _findings(corpus)
        lint.lint(corpus[:1], cache_dir=None, jobs=1)  # in this process, not in a worker
        assert validators.create.cache, "the patched create was used"
        lintpatch.remove()
        assert lintpatch.applied() == set()
        assert not hasattr(validators.create, "cache")
        plain = _findings(corpus)
    finally:
        lintpatch.apply()
    assert patched == plain
    # The broken templates do give findings, of more than one rule, in every environment.
    assert len({f[5] for f in plain}) >= 5
    assert {f[0].split("/")[1] for f in plain} == {first_env, "fixtures"}


def test_the_rule_set_is_built_with_the_collector_paused_and_resumed_after():
    """No garbage collection while cfn-lint's rule set is built (it would walk the objects the
    build makes again and again), and those objects frozen after; the collector on again after
    it, and off if it was off."""
    import gc

    during: list[int] = []  # the generations collected while cfn-lint's code was running

    def seen(phase: str, info: dict[str, Any]) -> None:
        frame = sys._getframe(1)
        while phase == "start" and frame is not None:
            if "/cfnlint/" in frame.f_code.co_filename:
                during.append(info["generation"])
                break
            frame = frame.f_back

    lint._rules()
    gc.callbacks.append(seen)
    try:
        lint._rules.cache_clear()  # built again (as `--watch` does when a rule file changes)
        gc.unfreeze()
        rules = lint._rules()
        assert gc.isenabled() and during == []
        assert gc.get_freeze_count() > 100_000  # what it made, out of the collector's reach
        assert len(rules.data) > 100 and lintpatch.applied()
        gc.disable()
        lint._rules.cache_clear()
        lint._rules()
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()
        gc.callbacks.remove(seen)


def test_linting_collects_young_garbage_less_often_and_puts_the_threshold_back(
    rendered, monkeypatch
):
    import gc

    seen: list[int] = []
    lint_chunk = lint._lint_chunk

    def recording(items: list[tuple[int, str, str]]) -> Any:
        seen.append(gc.get_threshold()[0])
        return lint_chunk(items)

    before = gc.get_threshold()
    monkeypatch.setattr(lint, "_lint_chunk", recording)
    lint.lint(rendered[:2], cache_dir=None, jobs=1)
    assert seen == [lint.LINT_GC_THRESHOLD] and before[0] < lint.LINT_GC_THRESHOLD
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


# -- bin/build-templates --watch ----------------------------------------------------------------


class Watcher:
    """`bin/build-templates --watch` running in a copy of the project; its output read as it
    comes, each wait bounded by a deadline."""

    def __init__(self, root: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(root / "bin" / "build-templates"), "--watch"],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        for stream, tag in ((self.proc.stdout, "out"), (self.proc.stderr, "err")):
            threading.Thread(target=self._pump, args=(stream, tag), daemon=True).start()

    def _pump(self, stream: Any, tag: str) -> None:
        for line in stream:
            self._queue.put(f"{tag}: {line.rstrip()}")

    def wait_for(self, needle: str, timeout: float = 120) -> list[str]:
        """Every line up to and including the first (not yet read) one containing `needle`."""
        deadline = time.monotonic() + timeout
        got: list[str] = []
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {needle!r} within {timeout} s; saw {got}") from None
            got.append(line)
            self.lines.append(line)
            if needle in line:
                return got

    def rebuild(self) -> tuple[set[str], list[str], list[str]]:
        """The files the next rebuild wrote and the findings it added and removed, as printed on
        stdout (read apart from stderr, so those lines may come after the stderr line that
        counts them)."""
        lines = self.wait_for("rebuilt in")
        counts = re.search(r"(\d+) file\(s\) written, .*\((\d+) new, (\d+) gone\)", lines[-1])
        assert counts, lines[-1]
        expected = sum(int(n) for n in counts.groups())
        got = [line for line in lines if line.startswith("out: ")]
        while len(got) < expected:
            got += [line for line in self.wait_for("out: ") if line.startswith("out: ")]
        added = [line[len("out: + ") :] for line in got if line.startswith("out: + ")]
        removed = [line[len("out: - ") :] for line in got if line.startswith("out: - ")]
        return _written(got), added, removed


PROBE_RULE = """
from cfnlint.rules import CloudFormationLintRule, RuleMatch


class WatchProbe(CloudFormationLintRule):
    id = "E9999"
    shortdesc = "Probe of the watch test"
    description = "Finds a template described as edited while watching"
    source_url = "https://example.com/watch-probe"
    tags = ["test"]

    def match(self, cfn):
        if cfn.template.get("Description") == "edited while watching":
            return [RuleMatch(["Description"], "described as edited while watching")]
        return []
"""


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def _raise_max_count(config_file: Path, env: str) -> None:
    """`max_count` of `env`'s service defaults plus one, edited in the file's text."""
    text = config_file.read_text()
    header = text.index(f"[environments.{env}.service_defaults]")
    match = re.compile(r"^max_count = (\d+)$", re.M).search(text, header)
    assert match, "the service defaults set max_count"
    edited = f"max_count = {int(match.group(1)) + 1}"
    config_file.write_text(text[: match.start()] + edited + text[match.end() :])


def _written(lines: list[str]) -> set[str]:
    return {line.split("wrote ", 1)[1] for line in lines if line.startswith("out: wrote ")}


def test_watch_rebuilds_on_each_save_of_the_config_and_of_a_stack_module(project_copy, rendered):
    envs = list(dict.fromkeys(r.env for r in rendered))
    watcher = Watcher(project_copy)
    try:
        watcher.wait_for("watching")
        # A value of one environment: exactly the templates the code renders differently.
        config_file = project_copy / "cfn" / "insightxi.toml"
        _raise_max_count(config_file, envs[0])
        now = {r.path: r.text for r in render.render(config.load(config_file))}
        expected = {f"templates/{r.path}" for r in rendered if now[r.path] != r.text}
        assert expected and all(p.startswith(f"templates/{envs[0]}/") for p in expected)
        written, added, removed = watcher.rebuild()
        assert {w for w in written if w.endswith(".json")} == expected, watcher.lines
        assert (added, removed) == ([], [])

        # A new rule saved in cfn/rules: the rule set is loaded again (it finds nothing yet).
        (project_copy / "cfn" / "rules" / "WatchProbe.py").write_text(PROBE_RULE)
        assert watcher.rebuild() == (set(), [], [])

        # A stack module saved with a change: the next build renders the code on disk, and the
        # finding it now gives is shown as new.
        cluster = project_copy / "cfn" / "stacks" / "cluster.py"
        as_before = cluster.read_text()
        cluster.write_text(
            as_before
            + "\n\n_build_as_before = build\n\n\ndef build(*args, **kwargs):\n"
            + "    t = _build_as_before(*args, **kwargs)\n"
            + '    t.set_description("edited while watching")\n    return t\n'
        )
        written, added, removed = watcher.rebuild()
        cluster_file = naming.template_file(naming.CLUSTER)
        cluster_paths = {f"templates/{env}/{cluster_file}" for env in envs}
        assert cluster_paths <= written, watcher.lines
        for env in envs:
            text = (project_copy / "templates" / env / cluster_file).read_text()
            assert '"Description": "edited while watching"' in text
        assert {a.split(":")[0] for a in added} == cluster_paths and removed == [], added
        assert all("E9999 described as edited while watching" in a for a in added)

        # The change undone: the same findings are shown as gone.
        cluster.write_text(as_before)
        written, again, removed = watcher.rebuild()
        assert cluster_paths <= written and again == [] and sorted(removed) == sorted(added)
    finally:
        watcher.proc.send_signal(signal.SIGINT)
        try:
            watcher.proc.wait(timeout=30)
        finally:
            watcher.proc.kill()
    rest = watcher.wait_for("stopped watching", timeout=10)
    assert watcher.proc.returncode == 0
    assert [line for line in watcher.lines if "Traceback" in line] == [], rest


def test_watch_shows_the_findings_added_and_removed():
    def result(*findings: lint.Finding, written: tuple[str, ...] = ()) -> BuildResult:
        return BuildResult("write", ("dev",), True, (), findings=findings, written=written)

    kept = lint.Finding("templates/dev/a.json", 3, 1, "E3002", "kept")
    gone = lint.Finding("templates/dev/a.json", 5, 1, "W9007", "fixed")
    new = lint.Finding("templates/dev/b.json", 7, 2, "E3012", "new")
    before = result(kept, gone)
    after = result(kept, new, written=("templates/dev/b.json",))
    assert watch.changes(before, after) == [
        "wrote templates/dev/b.json",
        f"+ {new}",
        f"- {gone}",
    ]
    assert watch.changes(after, result(kept, new)) == []


@pytest.mark.parametrize(
    "args", [["--check"], ["--output", "json"], ["--lint-format", "sarif", "--lint-out", "x"]]
)
def test_watch_with_an_option_it_cannot_honour_is_a_usage_error(args):
    from click.testing import CliRunner

    from cfn.cli.build import build_templates

    result = CliRunner().invoke(build_templates, ["--watch", *args])
    assert result.exit_code == 2
    assert "--watch writes the templates and shows text" in result.output
    assert "Traceback" not in result.output
