"""The lint cache and the cached rebuild: invalidated by each of their inputs, and giving the
same findings as an uncached run. A 100-service platform renders within CloudFormation's
limits."""

from __future__ import annotations

import io
import json
import shutil
from contextlib import redirect_stderr, redirect_stdout

import pytest

from cfn import config, fastbuild, lint, render
from cfn.render import RenderedTemplate
from tests import scale
from tests.conftest import PROJECT_ROOT, TEMPLATES

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
    assert '"ruleId": "E9003"' in lint.format_findings(second, "sarif")


def test_cache_key_changes_with_each_input(monkeypatch):
    base = lint.cache_key(BROKEN, "eu-west-1")
    assert lint.cache_key(BROKEN, "eu-west-1") == base
    assert lint.cache_key(BROKEN + " ", "eu-west-1") != base  # the template
    assert lint.cache_key(BROKEN, "us-east-1") != base  # the region
    monkeypatch.setattr(lint, "LINT_OPTIONS", {**lint.LINT_OPTIONS, "ignore_checks": ["W"]})
    assert lint.cache_key(BROKEN, "eu-west-1") != base  # the options
    monkeypatch.undo()
    monkeypatch.setattr(lint, "_rules_source_hash", lambda: "edited rules")
    assert lint.cache_key(BROKEN, "eu-west-1") != base  # the project's rules
    monkeypatch.undo()
    from importlib import metadata

    real = metadata.version
    monkeypatch.setattr(
        metadata, "version", lambda name: "9.9.9" if name == "cfn-lint" else real(name)
    )
    assert lint.cache_key(BROKEN, "eu-west-1") != base  # the cfn-lint version


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
def project_copy(tmp_path, monkeypatch):
    """fastbuild pointed at a copy of templates/ and its own record directory."""
    root = tmp_path / "project"
    shutil.copytree(TEMPLATES, root / "templates")
    shutil.copytree(PROJECT_ROOT / "docs", root / "docs")
    monkeypatch.setattr(fastbuild, "PROJECT_ROOT", root)
    monkeypatch.setattr(fastbuild, "DOCS_DIR", root / "docs" / "architecture")
    monkeypatch.setattr(fastbuild, "TEMPLATES_DIR", root / "templates")
    monkeypatch.setattr(fastbuild, "RECORD_DIR", root / ".cache" / "build")
    return root


def _remember_clean_build(rendered):
    rows = [
        fastbuild.Row(f"templates/{r.path}", r.resource_count, r.size, r.sha256) for r in rendered
    ]
    fastbuild.remember([], False, rows, [])
    return rows


def _cached(argv):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = fastbuild.try_cached(argv)
    return code, out.getvalue(), err.getvalue()


def test_cached_rebuild_prints_the_summary_of_the_real_build(project_copy, rendered):
    from cfn import summary

    rows = _remember_clean_build(rendered)
    code, out, err = _cached([])
    assert code == 0
    assert out.strip() == summary.as_text(rows, [], linted=True)
    assert "already up to date" in err
    code, out, _ = _cached(["--check", "--output", "json"])
    assert code == 0 and json.loads(out)["ok"] is True


def test_cached_rebuild_is_invalidated_by_an_edited_template_or_input(
    project_copy, rendered, monkeypatch
):
    _remember_clean_build(rendered)
    assert _cached([])[0] == 0
    assert _cached(["--env", "dev"])[0] is None  # another selection: never recorded
    assert _cached(["--no-cache"])[0] is None  # an option the fast path does not take
    edited = project_copy / "templates" / "dev" / "edge.json"
    original = edited.read_text()
    edited.write_text(original.replace('"80"', '"81"', 1) + " ")
    assert _cached([])[0] is None
    edited.write_text(original)
    (project_copy / "templates" / "dev" / "extra.json").write_text("{}")
    assert _cached([])[0] is None
    (project_copy / "templates" / "dev" / "extra.json").unlink()
    assert _cached([])[0] == 0
    diagram = project_copy / "docs" / "architecture" / "prod.dot"
    diagram.write_text(diagram.read_text() + "\n")  # --check must look at it again
    assert _cached(["--check"])[0] is None
    monkeypatch.setattr(fastbuild, "CONFIG_PATH", PROJECT_ROOT / "README.md")  # other bytes
    assert _cached([])[0] is None


def test_one_hundred_services_render_within_cloudformation_limits(raw):
    platform = config.from_dict(scale.with_services(raw, 100))
    rendered = render.render(platform)
    assert len(rendered) == 3 * (100 + 5)
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
