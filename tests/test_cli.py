"""bin/build-templates run as a user runs it: exit codes, messages, what it writes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BIN, PROJECT_ROOT, TEMPLATES


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BIN / "build-templates"), *args],
        cwd=cwd or PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_help_lists_the_options():
    r = run("--help")
    assert r.returncode == 0
    for option in ("--env", "--check", "--no-lint", "--output"):
        assert option in r.stdout


def test_check_is_clean_from_any_directory(tmp_path):
    r = run("--check", "--no-lint", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "templates/prod/network.json" in r.stdout


def test_build_writes_every_environment_and_lints_clean(tmp_path):
    out = tmp_path / "out"
    r = run("--out", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    committed = sorted(p.relative_to(TEMPLATES) for p in TEMPLATES.rglob("*.json"))
    assert sorted(p.relative_to(out) for p in out.rglob("*.json")) == committed
    for rel in committed:
        assert (out / rel).read_bytes() == (TEMPLATES / rel).read_bytes(), rel
    # The summary: one row per template with resources, bytes and findings.
    row = next(
        line
        for line in r.stdout.splitlines()
        if line.endswith("prod/network.json") or "prod/network.json " in line
    )
    assert row.split()[-1] == "0"
    # A second run has nothing to write.
    again = run("--out", str(out), "--no-lint")
    assert again.returncode == 0 and "already up to date" in again.stderr


def test_check_names_differing_missing_and_extra_files_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    shutil.copytree(TEMPLATES, out)
    net = out / "dev" / "network.json"
    net.write_text(net.read_text().replace('"10.10.0.0/16"', '"10.11.0.0/16"'))
    (out / "prod" / "root.json").unlink()
    (out / "staging" / "old.json").write_text("{}\n")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    r = run("--check", "--no-lint", "--out", str(out))
    assert r.returncode == 1
    assert (
        "dev/network.json: differs from what the code renders (Resources.Vpc changed)" in r.stdout
    )
    assert "prod/root.json: missing" in r.stdout
    assert "staging/old.json: extra" in r.stdout
    assert "run bin/build-templates" in r.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_unknown_environment_lists_known_ones():
    r = run("--env", "qa", "--check")
    assert r.returncode == 2
    assert "unknown environment 'qa'; known: dev, staging, prod" in r.stderr
    assert "Traceback" not in r.stderr


def test_selected_environment_only(tmp_path):
    r = run("--env", "prod", "--no-lint", "--out", str(tmp_path / "out"))
    assert r.returncode == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["prod"]


def test_invalid_config_exits_2_with_every_problem_and_no_traceback(tmp_path):
    text = (PROJECT_ROOT / "cfn" / "insightxi.toml").read_text()
    text = text.replace("log_retention_days = 30", "log_retention_days = 31")
    text = text.replace("port = 8001", "port = 8000")
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    out = tmp_path / "out"
    r = run("--config", str(bad), "--out", str(out))
    assert r.returncode == 2
    assert "environment dev: log_retention_days 31 is not accepted" in r.stderr
    assert (
        "service database-service: port 8000 already used by service sportmonks-service" in r.stderr
    )
    assert "Traceback" not in r.stderr
    assert not out.exists()


def test_json_output_is_machine_readable(tmp_path):
    r = run("--check", "--env", "dev", "--output", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["ok"] is True
    expected = {f"templates/dev/{p.name}" for p in (TEMPLATES / "dev").glob("*.json")}
    assert {t["path"] for t in data["templates"]} == expected
    assert {"templates/dev/root.json", "templates/dev/network.json"} <= expected
    assert all(t["findings"] == 0 for t in data["templates"])


def test_lint_findings_exit_1_with_file_line_and_rule(monkeypatch, tmp_path):
    # In-process: a builder that adds a resource cfn-lint rejects, to see the CLI report it.
    from click.testing import CliRunner
    from troposphere import ec2

    from cfn import cli, render
    from cfn.stacks import network

    real_build = network.build

    def broken(env):
        t = real_build(env)
        t.add_resource(ec2.SecurityGroup("Broken", GroupDescription="x", VpcId="vpc-123"))
        t.resources["Broken"].properties["SecurityGroupIngress"] = [{"IpProtocol": "tcp"}]
        return t

    monkeypatch.setattr(render.network, "build", broken)
    result = CliRunner().invoke(cli.build_templates, ["--env", "dev", "--out", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "network.json:" in result.output and ": E" in result.output
    assert "lint finding(s)" in result.output


def test_failed_write_leaves_the_tree_as_it_was(monkeypatch, tmp_path):
    from cfn import build, config, render

    out = tmp_path / "out"
    shutil.copytree(TEMPLATES, out)
    net = out / "dev" / "network.json"
    net.write_text("stale\n")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    real_rename = os.rename

    def failing_rename(src, dst):
        if str(dst).endswith("/dev") and ".new-" in str(src):
            raise OSError(28, "No space left on device")
        return real_rename(src, dst)

    monkeypatch.setattr(build.os, "rename", failing_rename)
    with pytest.raises(OSError):
        build.write(render.render(config.load(), ["dev"]), out)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in out.iterdir()) == ["dev", "prod", "staging"]


@pytest.fixture
def log_group_without_retention(monkeypatch):
    """Make the dev network template carry a log group without retention (E9003); encrypted,
    so that E9003 is its only finding."""
    from troposphere import logs

    from cfn import render
    from cfn.stacks import network

    real_build = network.build

    def broken(env):
        t = real_build(env)
        t.add_resource(
            logs.LogGroup("Forever", KmsKeyId="arn:aws:kms:eu-west-1:123456789012:key/k")
        )
        return t

    monkeypatch.setattr(render.network, "build", broken)


def test_lint_findings_as_sarif_file_from_cfn_lint(log_group_without_retention, tmp_path):
    from click.testing import CliRunner

    from cfn import cli

    sarif = tmp_path / "lint.sarif"
    args = [
        "--env",
        "dev",
        "--out",
        str(tmp_path / "t"),
        "--lint-format",
        "sarif",
        "--lint-out",
        str(sarif),
    ]
    result = CliRunner().invoke(cli.build_templates, args)
    assert result.exit_code == 1, result.output
    doc = json.loads(sarif.read_text())
    (run,) = doc["runs"]
    assert run["tool"]["driver"]["name"] == "cfn-lint"
    (res,) = run["results"]
    assert res["ruleId"] == "E9003"
    location = res["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("dev/network.json")
    assert location["region"]["startLine"] > 1


def test_lint_findings_parseable_on_stdout_summary_on_stderr(log_group_without_retention, tmp_path):
    from click.testing import CliRunner

    from cfn import cli

    args = ["--env", "dev", "--out", str(tmp_path / "t"), "--lint-format", "parseable"]
    result = CliRunner().invoke(cli.build_templates, args)
    assert result.exit_code == 1
    (line,) = result.stdout.strip().splitlines()
    assert re.match(r".*dev/network\.json:\d+:\d+:\d+:\d+:E9003:Log group Forever", line), line
    assert "resources" in result.stderr  # the summary table


def test_lint_format_with_no_lint_is_a_usage_error():
    r = run("--no-lint", "--lint-format", "sarif", "--check")
    assert r.returncode == 2 and "drop --no-lint" in r.stderr
