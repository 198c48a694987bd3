"""The GitHub Actions example calls only real commands of this project, with options they
accept (parsed by the commands' own click definitions)."""

from __future__ import annotations

import re
import shlex

import click
import pytest
import yaml

from cfn import cli
from tests.conftest import PROJECT_ROOT

WORKFLOW = PROJECT_ROOT / ".github" / "workflows" / "infrastructure.yml"
COMMANDS = {"bin/build-templates": cli.build_templates, "bin/deploy": cli.deploy}


def invocations() -> list[tuple[str, str, list[str]]]:
    """(job, step, argv) of every bin/ command in the workflow's run steps."""
    doc = yaml.safe_load(WORKFLOW.read_text())
    found = []
    for job_name, job in doc["jobs"].items():
        for step in job["steps"]:
            script = step.get("run", "")
            # GitHub expressions become a plausible value; shell tails are cut off.
            script = re.sub(r"\$\{\{\s*matrix\.env\s*\}\}", "staging", script)
            for line in script.splitlines():
                line = re.split(r"\s(?:&&|\|\||;|\||>>?)\s", line.strip())[0]
                if line.startswith("bin/"):
                    argv = shlex.split(line)
                    found.append((job_name, step.get("name", argv[0]), argv))
    return found


def test_the_workflow_covers_the_daily_workflow():
    calls = [" ".join(argv[:2]) for _, _, argv in invocations()]
    assert "bin/build-templates --check" in calls
    assert calls.count("bin/deploy plan") == 3
    assert calls.count("bin/deploy execute") == 2
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert doc["jobs"]["execute-prod"]["environment"] == "production"
    assert doc["jobs"]["plan"]["permissions"]["id-token"] == "write"
    assert "python -m pytest" in WORKFLOW.read_text()


@pytest.mark.parametrize(
    "job, step, argv", invocations(), ids=lambda v: v if isinstance(v, str) else None
)
def parse(argv: list[str]) -> None:
    """Parse argv with the command's own click definition; raise on anything it rejects."""
    command = COMMANDS[argv[0]]
    if isinstance(command, click.Group):
        parent = command.make_context(argv[0], [], resilient_parsing=True)
        sub = command.get_command(parent, argv[1])
        if sub is None:
            raise click.UsageError(f"no command {argv[1]!r}")
        sub.make_context(argv[1], argv[2:], parent=parent, resilient_parsing=False)
    else:
        command.make_context(argv[0], argv[1:], resilient_parsing=False)


@pytest.mark.parametrize(
    "job, step, argv", invocations(), ids=lambda v: v if isinstance(v, str) else None
)
def test_every_command_and_option_exists(job, step, argv):
    parse(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["bin/deploy", "plan", "--env", "dev", "--summary", "x.md"],
        ["bin/deploy", "apply", "--env", "dev"],
        ["bin/build-templates", "--verify"],
    ],
)
def test_the_check_rejects_what_the_commands_reject(argv):
    with pytest.raises(click.UsageError):
        parse(argv)
