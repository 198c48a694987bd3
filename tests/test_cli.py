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

from tests.conftest import BIN, PROJECT_ROOT, TEMPLATES, alive, descendants


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


def test_check_names_differing_missing_and_extra_files_and_writes_nothing(tmp_path, platform):
    env = next(iter(platform.environments.values()))
    out = tmp_path / "out"
    shutil.copytree(TEMPLATES, out)
    net = out / env.name / "network.json"
    net.write_text(net.read_text().replace(f'"{env.vpc_cidr}"', '"10.99.0.0/16"'))
    (out / env.name / "root.json").unlink()
    (out / env.name / "old.json").write_text("{}\n")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    r = run("--check", "--no-lint", "--out", str(out))
    assert r.returncode == 1
    fix = f"(run bin/build-templates --out {out})"
    lines = r.stdout.splitlines()
    assert f"{net}: differs from what the code renders: Resources.Vpc changed {fix}" in lines
    assert f"{out / env.name / 'root.json'}: missing (the code renders it) {fix}" in lines
    assert f"{out / env.name / 'old.json'}: extra (the code no longer renders it) {fix}" in lines
    assert "3 file(s) not what the build writes" in r.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_unknown_environment_lists_known_ones(platform):
    r = run("--env", "qa", "--check")
    assert r.returncode == 2
    assert f"unknown environment 'qa'; known: {', '.join(platform.environments)}" in r.stderr
    assert "Traceback" not in r.stderr


def test_selected_environment_only(tmp_path, platform):
    env = list(platform.environments)[-1]
    r = run("--env", env, "--no-lint", "--out", str(tmp_path / "out"))
    assert r.returncode == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [env]


def test_invalid_config_exits_2_with_every_problem_and_no_traceback(tmp_path, platform):
    env = next(iter(platform.environments.values()))
    first, second = platform.services[0], platform.services[1]
    text = (PROJECT_ROOT / "cfn" / "insightxi.toml").read_text()
    retention = f"log_retention_days = {env.log_retention_days}"
    assert text.count(retention) >= 1 and text.count(f"port = {second.port}") == 1
    text = text.replace(retention, "log_retention_days = 31", 1)
    text = text.replace(f"port = {second.port}", f"port = {first.port}")
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    out = tmp_path / "out"
    r = run("--config", str(bad), "--out", str(out))
    assert r.returncode == 2
    assert "log_retention_days" in r.stderr and " 31 " in r.stderr
    assert f"port {first.port}" in r.stderr and second.name in r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()


def test_json_output_is_machine_readable(platform):
    env = next(iter(platform.environments))
    r = run("--check", "--env", env, "--output", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["ok"] is True and data["mode"] == "check" and data["differences"] == []
    expected = {f"templates/{env}/{p.name}" for p in (TEMPLATES / env).glob("*.json")}
    assert {t["path"] for t in data["templates"]} == expected
    assert {f"templates/{env}/root.json", f"templates/{env}/network.json"} <= expected
    assert all(t["findings"] == 0 for t in data["templates"])


def test_out_inside_a_regular_file_is_one_line_and_writes_nothing(tmp_path):
    # A path under a regular file cannot be written even by root (the tests may run as root).
    blocker = tmp_path / "file"
    blocker.write_text("not a directory\n")
    r = run("--no-lint", "--out", str(blocker / "out"))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    (line,) = [x for x in r.stderr.splitlines() if x.startswith("error:")]
    assert line == (
        f"error: cannot write {blocker}/out: Not a directory (make it a writable directory, "
        "or write the templates elsewhere with --out DIR); nothing was changed"
    )
    assert blocker.read_text() == "not a directory\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_unwritable_docs_leave_templates_and_docs_untouched(tmp_path, platform):
    from cfn import build

    env = next(iter(platform.environments))
    out = tmp_path / "templates"
    shutil.copytree(TEMPLATES, out)
    (out / env / "network.json").write_text("stale\n")
    (out / env / "old.json").write_text("{}\n")
    docs_dir = tmp_path / "file" / "architecture"  # under a regular file: cannot be created
    (tmp_path / "file").write_text("")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    request = build.BuildRequest(lint=False, out_dir=out, docs_dir=docs_dir, readme=None)
    with pytest.raises(build.BuildError) as info:
        build.run(request)
    assert str(info.value).startswith(f"cannot write {docs_dir}: Not a directory (make it")
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_lint_findings_exit_1_with_file_line_and_rule(monkeypatch, tmp_path, platform):
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
    env = next(iter(platform.environments))
    result = CliRunner().invoke(cli.build_templates, ["--env", env, "--out", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert "network.json:" in result.output and ": E" in result.output
    assert "lint finding(s)" in result.output


def test_failed_write_part_way_puts_every_file_back(monkeypatch, tmp_path, platform):
    from cfn import build, fsutil

    out = tmp_path / "out"
    shutil.copytree(TEMPLATES, out)
    for env in platform.environments:
        (out / env / "network.json").write_text("stale\n")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    real_rename = os.rename
    swapped = []

    def failing_rename(src, dst):
        # The third file swapped in fails, as on a full disk: two are already replaced.
        if ".network.json." in str(src) and not str(src).startswith(str(dst) + ".old"):
            swapped.append(dst)
            if len(swapped) == 3:
                raise OSError(28, "No space left on device")
        return real_rename(src, dst)

    monkeypatch.setattr(fsutil.os, "rename", failing_rename)
    request = build.BuildRequest(lint=False, out_dir=out, docs=False)
    with pytest.raises(build.BuildError, match="No space left on device"):
        build.run(request)
    assert len(swapped) == 3
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in out.iterdir()) == sorted(platform.environments)


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


def test_lint_findings_as_sarif_file_from_cfn_lint(log_group_without_retention, tmp_path, platform):
    from click.testing import CliRunner

    from cfn import cli

    sarif = tmp_path / "lint.sarif"
    env = next(iter(platform.environments))
    args = [
        "--env",
        env,
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
    assert location["artifactLocation"]["uri"].endswith(f"{env}/network.json")
    assert location["region"]["startLine"] > 1


def test_lint_findings_parseable_on_stdout_summary_on_stderr(
    log_group_without_retention, tmp_path, platform
):
    from click.testing import CliRunner

    from cfn import cli

    env = next(iter(platform.environments))
    args = ["--env", env, "--out", str(tmp_path / "t"), "--lint-format", "parseable"]
    result = CliRunner().invoke(cli.build_templates, args)
    assert result.exit_code == 1
    (line,) = result.stdout.strip().splitlines()
    pattern = rf".*{env}/network\.json:\d+:\d+:\d+:\d+:E9003:Log group Forever"
    assert re.match(pattern, line), line
    assert "resources" in result.stderr  # the summary table


def test_lint_format_with_no_lint_is_a_usage_error():
    r = run("--no-lint", "--lint-format", "sarif", "--check")
    assert r.returncode == 2 and "drop --no-lint" in r.stderr


def test_lint_out_that_cannot_be_written_is_one_line(tmp_path, platform):
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = next(iter(platform.environments))
    out = tmp_path / "t"
    r = run("--env", env, "--out", str(out), "--lint-out", str(blocker / "lint.txt"))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"error: cannot write {blocker}: Not a directory (choose another --lint-out)" in (
        r.stderr.splitlines()
    )


def test_ctrl_c_during_a_build_is_one_line_exit_130_and_leaves_no_half_written_file(
    tmp_path, rendered
):
    import signal
    import time

    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, str(BIN / "build-templates"), "--no-cache", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # A cold build lints every template: interrupt it while it lints, that is once its lint
    # process (cfn.lintfork) has forked its workers (one per core; none on one core). Not after
    # a fixed time: the build may be over by then (about 1 s on 2 cores).
    from cfn import lint

    jobs = lint.default_jobs()
    lint_processes = 1 + jobs if jobs > 1 else 1
    deadline = time.monotonic() + 60
    while len(descendants(process.pid)) < lint_processes and time.monotonic() < deadline:
        assert process.poll() is None, "the build ended before it was interrupted"
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1].startswith("interrupted: the files are as before or")
    assert "Traceback" not in stderr
    # All or nothing: no staging file left, and either no tree or the whole rendered tree.
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written in ([], sorted(r.path for r in rendered))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_build_killed_while_linting_leaves_no_lint_worker_behind(tmp_path):
    import signal
    import time

    process = subprocess.Popen(
        [sys.executable, str(BIN / "build-templates"), "--no-cache", "--out", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    deadline = time.monotonic() + 60
    # The workers and the lint parent that forked them (cfn.lintfork): its descendants.
    while len(workers) < 3 and time.monotonic() < deadline and process.poll() is None:
        workers = sorted(descendants(process.pid))
        time.sleep(0.02)
    assert len(workers) >= 2, "the build never started its lint workers"
    process.send_signal(signal.SIGTERM)  # as a CI runner or a process manager stops it
    process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(map(alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in workers if alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == [], "lint workers outlived the build (holding its output pipes open)"


@pytest.mark.parametrize("closed", ["1", "2"])
def test_a_closed_standard_stream_is_treated_as_dev_null_not_a_traceback(tmp_path, closed):
    # `bin/build-templates --check >&-` (or `2>&-`): Python starts without that stream.
    script = f'exec "$@" {closed}>&-'
    command = [sys.executable, str(BIN / "build-templates"), "--check", "--no-cache"]
    r = subprocess.run(["sh", "-c", script, "sh", *command], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    # The other stream still gets its part: the summary (stderr) or the table (stdout).
    if closed == "1":
        assert (
            r.stderr.strip()
            .splitlines()[-1]
            .startswith(f"{len(list(TEMPLATES.rglob('*.json')))} template(s)")
        )
    else:
        assert "template" in r.stdout.splitlines()[0]


def _python(code: str) -> str:
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60
    )
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    return r.stdout.strip()


def test_the_build_command_imports_neither_the_configuration_s_modules_nor_the_deploy_commands():
    """bin/build-templates starts its lint process before pydantic and troposphere are imported
    (cfn.build.run): importing its command must not bring them in."""
    heavy = ["pydantic", "troposphere", "cfn.config", "cfn.cli.plan", "boto3"]
    code = f"import sys, cfn.cli.build; print([m for m in {heavy!r} if m in sys.modules])"
    assert _python(code) == "[]"


@pytest.mark.parametrize("first", ["cfn.cli.plan", "cfn.cli.execute", "cfn.cli.context"])
def test_the_deploy_group_is_the_group_with_every_command_whatever_is_imported_first(first):
    code = (
        f"import click, json, {first}; from cfn.cli import deploy; import cfn.cli as c; "
        "print(json.dumps([isinstance(deploy, click.Group), deploy is c.deploy, "
        "sorted(deploy.commands)]))"
    )
    group, same, commands = json.loads(_python(code))
    assert group and same
    expected = {"bootstrap", "plan", "status", "execute", "diff", "destroy", "services", "logs"}
    assert expected <= set(commands)
