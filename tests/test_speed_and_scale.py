"""The lint cache and the cached rebuild: invalidated by each of their inputs, and giving the
same findings as an uncached run. A 100-service platform renders within CloudFormation's
limits."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from cfn import config, lint, render
from cfn.render import RenderedTemplate
from tests import scale
from tests.conftest import PROJECT_ROOT

BROKEN = json.dumps(
    {
        "Resources": {
            "Forever": {"Type": "AWS::Logs::LogGroup", "Properties": {}},
            "Open": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "GroupDescription": "x",
                    "SecurityGroupIngress": [
                        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "0.0.0.0/0"}
                    ],
                },
            },
        }
    },
    indent=2,
)


def broken(name: str = "t.json") -> RenderedTemplate:
    return RenderedTemplate("dev", name, BROKEN + "\n", "eu-west-1")


def test_a_cached_run_reports_the_same_findings_as_an_uncached_one(tmp_path, monkeypatch):
    uncached = lint.lint([broken()], cache_dir=None)
    assert {f.rule_id for f in uncached} >= {"E9003", "E9005"}
    first = lint.lint([broken()], cache_dir=tmp_path)
    # The second run must not lint at all.
    monkeypatch.setattr(lint, "_lint_many", lambda *a, **k: pytest.fail("linted despite cache"))
    second = lint.lint([broken()], cache_dir=tmp_path)
    as_tuples = [
        [(f.path, f.line, f.column, f.rule_id, f.message) for f in run]
        for run in (uncached, first, second)
    ]
    assert as_tuples[0] == as_tuples[1] == as_tuples[2]
    # Cached findings still feed cfn-lint's formatters.
    from cfn import lintformat

    assert '"ruleId": "E9003"' in lintformat.format_findings(second, "sarif")


def test_cache_key_changes_with_each_input(monkeypatch, tmp_path):
    base = lint.cache_key(BROKEN, "eu-west-1")
    assert lint.cache_key(BROKEN, "eu-west-1") == base
    assert lint.cache_key(BROKEN + " ", "eu-west-1") != base  # the template
    assert lint.cache_key(BROKEN, "us-east-1") != base  # the region
    real_args = lint._config_args
    monkeypatch.setattr(
        lint, "_config_args", lambda r=None: {**real_args(r), "ignore_checks": ["W"]}
    )
    assert lint.cache_key(BROKEN, "eu-west-1") != base  # cfn-lint's configuration
    monkeypatch.undo()
    monkeypatch.setattr(lint, "_rules_source_hash", lambda: "edited rules")
    assert lint.cache_key(BROKEN, "eu-west-1") != base  # the project's rules
    monkeypatch.undo()
    from importlib import metadata

    real = metadata.version
    monkeypatch.setattr(
        metadata, "version", lambda name: "9.9.9" if name == "cfn-lint" else real(name)
    )
    lint._settings_key.cache_clear()
    assert lint.cache_key(BROKEN, "eu-west-1") != base  # the cfn-lint version
    monkeypatch.undo()
    # `cfn-lint --update-specs` puts newer schemas (and their version.json) in its cache dir.
    downloaded = tmp_path / "xdg" / "aws" / "cfn-lint" / "schemas"
    (downloaded / "providers").mkdir(parents=True)
    (downloaded / "version.json").write_text('{"schema_date": "2099-01-01T00:00:00Z"}')
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr("os.path.expanduser", lambda p: p.replace("~", str(tmp_path / "home")))
    lint._settings_key.cache_clear()
    assert lint.cache_key(BROKEN, "eu-west-1") != base  # the schema data
    monkeypatch.undo()
    lint._settings_key.cache_clear()
    assert lint.cache_key(BROKEN, "eu-west-1") == base


def test_cache_key_follows_the_settings_cfn_lint_is_built_with(tmp_path, monkeypatch):
    """A changed cfn-lint setting is a cache miss: the cached E9003 is not replayed once the
    configuration cfn-lint runs with ignores it."""
    assert "E9003" in {f.rule_id for f in lint.lint([broken()], cache_dir=tmp_path)}
    real_args = lint._config_args
    monkeypatch.setattr(
        lint, "_config_args", lambda r=None: {**real_args(r), "ignore_checks": ["E9003"]}
    )
    lint._config.cache_clear()
    try:
        again = {f.rule_id for f in lint.lint([broken()], cache_dir=tmp_path)}
    finally:
        lint._config.cache_clear()
    assert "E9003" not in again and "E9005" in again


def test_rules_hash_follows_the_rules_source(tmp_path, monkeypatch):
    rules = tmp_path / "rules"
    shutil.copytree(lint.PROJECT_RULES_DIR, rules, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(lint, "PROJECT_RULES_DIR", rules)
    lint._rules_source_hash.cache_clear()
    before = lint._rules_source_hash()
    (rules / "ImageTag.py").write_text((rules / "ImageTag.py").read_text() + "\n# edited\n")
    lint._rules_source_hash.cache_clear()
    assert lint._rules_source_hash() != before
    lint._rules_source_hash.cache_clear()


def test_parallel_and_serial_linting_agree(rendered):
    dev = [r for r in rendered if r.env == "dev"] + [broken("a.json"), broken("b.json")]
    assert len(dev) >= lint.PARALLEL_MIN_TEMPLATES
    serial = lint.lint(dev, cache_dir=None, jobs=1)
    parallel = lint.lint(dev, cache_dir=None, jobs=2)
    assert [str(f) for f in serial] == [str(f) for f in parallel]
    assert len(serial) >= 4


@pytest.fixture
def project(tmp_path):
    """A copy of the project as a clean clone has it: bin/, cfn/, templates/, docs/, README."""
    root = tmp_path / "project"
    skip = shutil.ignore_patterns("__pycache__")
    for name in ("bin", "cfn", "templates", "docs"):
        shutil.copytree(PROJECT_ROOT / name, root / name, ignore=skip)
    shutil.copy(PROJECT_ROOT / "README.md", root / "README.md")
    return root


def build(project, *args):
    return subprocess.run(
        [sys.executable, str(project / "bin" / "build-templates"), *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )


REPLAYED = "(the same inputs as an earlier clean build: its result; --no-cache rebuilds)"


def test_a_no_change_rebuild_shows_the_full_builds_result(project, platform):
    first = next(iter(platform.environments))
    json_check = ["--check", "--env", first, "--output", "json"]
    for args in (["--no-lint"], ["--check", "--no-lint"], json_check):
        full = build(project, *args)
        again = build(project, *args)
        assert full.returncode == again.returncode == 0, full.stderr
        assert REPLAYED not in full.stderr and REPLAYED in again.stderr
        assert again.stdout == full.stdout
    assert json.loads(again.stdout)["ok"] is True


def _set_nat_gateways(config_file, env):
    """Another valid NAT gateway count for `env` (one, or one per AZ), by editing the text."""
    text = config_file.read_text()
    header = text.index(f"[environments.{env.name}]")
    at = text.index("nat_gateways = ", header)
    end = text.index("\n", at)
    count = env.az_count if env.nat_gateways == 1 else 1
    config_file.write_text(text[:at] + f"nat_gateways = {count}" + text[end:])


def test_check_after_a_change_agrees_with_a_full_check(project, platform):
    """The bug of issue 10: after a config change and a build, `--check` was answered 0 from
    the record of the build while a full check failed on a diagram the build had not written."""
    env = next(iter(platform.environments.values()))
    assert build(project, "--check", "--no-lint").returncode == 0
    _set_nat_gateways(project / "cfn" / "insightxi.toml", env)

    for args in (["--check", "--no-lint"], ["--check", "--no-lint", "--no-cache"]):
        stale = build(project, *args)
        assert stale.returncode == 1, args
        assert f"templates/{env.name}/network.json: differs" in stale.stdout
        assert (
            f"docs/architecture/{env.name}.md: differs from the templates "
            "(run bin/build-templates)" in stale.stdout.splitlines()
        )

    diagram = (project / "docs" / "architecture" / f"{env.name}.md").read_text()
    assert build(project, "--no-lint").returncode == 0
    assert (project / "docs" / "architecture" / f"{env.name}.md").read_text() != diagram
    for args in (
        ["--check", "--no-lint"],
        ["--check", "--no-lint"],
        ["--check", "--no-lint", "--no-cache"],
    ):
        r = build(project, *args)
        assert (r.returncode, r.stdout.count(": differs")) == (0, 0), (args, r.stdout)
    assert REPLAYED in r.stderr or "--no-cache" in args


@pytest.mark.parametrize(
    "edit",
    ["template", "extra template", "diagram", "readme", "config"],
)
def test_a_changed_input_is_never_answered_from_the_record(project, platform, edit):
    env = next(iter(platform.environments))
    assert build(project, "--check", "--no-lint").returncode == 0
    assert REPLAYED in build(project, "--check", "--no-lint").stderr
    if edit == "template":
        path = project / "templates" / env / "edge.json"
        path.write_text(path.read_text() + " ")
    elif edit == "extra template":
        (project / "templates" / env / "extra.json").write_text("{}")
    elif edit == "diagram":
        path = project / "docs" / "architecture" / f"{env}.md"
        path.write_text(path.read_text().replace("flowchart LR", "flowchart TB"))
    elif edit == "readme":
        path = project / "README.md"
        path.write_text(path.read_text().replace("| region |", "| Region |"))
    else:
        _set_nat_gateways(project / "cfn" / "insightxi.toml", platform.env(env))
    for _ in range(2):  # a failing result is never stored, so never replayed
        r = build(project, "--check", "--no-lint")
        assert r.returncode == 1 and REPLAYED not in r.stderr, r.stderr
        assert "(run bin/build-templates)" in r.stdout


def test_a_stored_result_reads_back_equal(rendered):
    from cfn.lint import Finding
    from cfn.summary import BuildResult, Difference, Row

    result = BuildResult(
        mode="check",
        environments=("a", "b"),
        linted=True,
        templates=tuple(Row(r.path, r.resource_count, r.size, r.sha256) for r in rendered[:3]),
        differences=(Difference("x.md", "diagram", "differs", "run it", ("why",)),),
        findings=(Finding("t/a.json", 3, 4, "E9003", "no retention", 3, 9),),
        written=("t/a.json",),
        elapsed=1.5,
        inputs={"/p/a": "0" * 64, "/p/b": None},
        listings={"/p": ["a.json"]},
    )
    again = BuildResult.from_json(json.loads(json.dumps(result.to_json())))
    assert again == result and not again.ok


def test_one_hundred_services_render_within_cloudformation_limits(raw):
    platform = config.from_dict(scale.with_services(raw, 100))
    rendered = render.render(platform)
    assert len(rendered) == len(platform.environments) * (100 + 5)
    for r in rendered:
        t = json.loads(r.text)
        assert len(t.get("Resources", {})) < 500, r.path
        assert len(t.get("Parameters", {})) < 200, r.path
        assert len(t.get("Outputs", {})) < 200, r.path
        assert r.size < 1_000_000, r.path
    root = json.loads(next(r.text for r in rendered if r.path == "prod/root.json"))
    assert len(root["Parameters"]) == 102  # two artifact parameters, one image tag per service
    # Nested stacks, and the composite rollback alarms: 201 alarms, 100 to a composite, within
    # CloudFormation's five rollback triggers.
    composites = [
        r for r in root["Resources"].values() if r["Type"] == "AWS::CloudWatch::CompositeAlarm"
    ]
    assert len(composites) == 3 <= 5
    assert len(root["Resources"]) == 103 + len(composites)


def test_the_no_change_record_key_follows_cfn_lints_schema_data(tmp_path, monkeypatch):
    """`cfn-lint --update-specs` writes newer schemas and their version.json to its cache
    directory: the record of the last build no longer answers."""
    from cfn import fastbuild

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr("os.path.expanduser", lambda p: p.replace("~", str(tmp_path / "home")))
    before = fastbuild.key(["--check"])
    downloaded = tmp_path / "xdg" / "aws" / "cfn-lint" / "schemas"
    (downloaded / "providers").mkdir(parents=True)
    (downloaded / "version.json").write_text('{"schema_date": "2099-01-01T00:00:00Z"}')
    updated = fastbuild.key(["--check"])
    assert updated != before
    (downloaded / "version.json").write_text('{"schema_date": "2099-02-01T00:00:00Z"}')
    assert fastbuild.key(["--check"]) != updated
