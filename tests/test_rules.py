"""The project's cfn-lint rules: each catches its bad fixtures (an exact count) and passes its
good ones; plain `cfn-lint --append-rules cfn/rules` runs them too."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cfn import lint
from tests.conftest import PROJECT_ROOT

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
RULES_DIR = PROJECT_ROOT / "cfn" / "rules"


def findings_of(path: Path, rule_id: str) -> list[lint.Finding]:
    matches = lint.lint_text(str(path), path.read_text(), "eu-west-1")
    return [lint.to_finding(m) for m in matches if m.rule.id == rule_id]


def expected_count(path: Path) -> int:
    """A bad fixture says `Expect N x RULE` in its header comment."""
    m = re.search(r"Expect (\d+) x", path.read_text())
    assert m, f"{path.name} has no 'Expect N x RULE' comment"
    return int(m.group(1))


BAD = sorted(FIXTURES.glob("*_bad*.yaml"))
GOOD = sorted(FIXTURES.glob("*_good*.yaml"))


def test_every_rule_has_good_and_bad_fixtures():
    rule_ids = set()
    for path in RULES_DIR.glob("[A-Za-z]*.py"):
        rule_ids |= set(re.findall(r'^    id = "([EW]9\d{3})"', path.read_text(), re.M))
    generated = {"W9010", "E9011", "W9012"}  # too large to commit: built in the tests below
    assert {p.name.split("_")[0] for p in BAD} | generated == rule_ids
    assert {p.name.split("_")[0] for p in GOOD} | generated == rule_ids
    assert len(rule_ids) == 13


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_fixture_is_caught(path):
    rule_id = path.name.split("_")[0]
    found = findings_of(path, rule_id)
    assert len(found) == expected_count(path), "\n".join(map(str, found))
    assert all(f.line > 1 for f in found if rule_id not in {"W9010", "E9011", "W9012"})


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_fixture_passes(path):
    rule_id = path.name.split("_")[0]
    assert findings_of(path, rule_id) == []


def _log_groups(n: int, name_length: int = 40) -> dict:
    return {
        "Resources": {
            f"LogGroup{i:04d}": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {
                    "LogGroupName": f"/{i:04d}/" + "x" * name_length,
                    "RetentionInDays": 30,
                },
            }
            for i in range(n)
        }
    }


def _write(tmp_path: Path, template: dict) -> Path:
    path = tmp_path / "t.json"
    path.write_text(json.dumps(template, indent=2))
    return path


def test_template_over_51200_bytes_needs_s3(tmp_path):
    big = _write(tmp_path, _log_groups(300))
    assert 51_200 < big.stat().st_size < 1_000_000
    (finding,) = findings_of(big, "W9010")
    assert f"{big.stat().st_size:,} bytes" in finding.message
    small = _write(tmp_path, _log_groups(10))
    assert findings_of(small, "W9010") == []


def test_template_over_a_million_bytes_is_an_error(tmp_path):
    huge = _write(tmp_path, _log_groups(400, name_length=2400))
    assert huge.stat().st_size > 1_000_000
    assert len(findings_of(huge, "E9011")) == 1
    assert findings_of(huge, "W9010") == []
    assert findings_of(_write(tmp_path, _log_groups(10)), "E9011") == []


def test_counts_above_90_percent_of_quota_warn(tmp_path):
    near = _write(tmp_path, _log_groups(451))
    (finding,) = findings_of(near, "W9012")
    assert finding.message.startswith("451 resources")
    assert findings_of(_write(tmp_path, _log_groups(450)), "W9012") == []


def test_plain_cfn_lint_runs_the_project_rules():
    # As a user would, outside this project's code: the cfn-lint command and a bad fixture.
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--append-rules",
            str(RULES_DIR),
            "--format",
            "parseable",
            "--",
            str(FIXTURES / "E9005_bad.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode != 0
    ids = re.findall(r":(E9005):", result.stdout)
    assert len(ids) == 3, result.stdout + result.stderr


def test_project_templates_are_clean_under_every_rule(rendered):
    ours = [f for f in lint.lint(rendered) if f.rule_id[1:2] == "9"]
    assert ours == []
