"""The project's cfn-lint rules, each tested alone (as cfn-lint tests its own rules): a collection
holding only the rule under test runs over the rule's good and bad fixtures, and each bad fixture
gives an exact number of findings. Plain `cfn-lint --append-rules cfn/rules` runs them too.

That the rendered templates are clean under every rule (cfn-lint's and ours) is tested in
test_lint.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cfnlint.api
import pytest
from cfnlint.helpers import load_plugins
from cfnlint.rules import Match, RulesCollection
from hypothesis import given, settings
from hypothesis import strategies as st

from cfn.rules._resolve import serialised_size
from tests.conftest import PROJECT_ROOT

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
RULES_DIR = PROJECT_ROOT / "cfn" / "rules"
REGION = "eu-west-1"

# Loaded the way `--append-rules` loads them (cfn-lint's plugin loader on the directory).
RULE_CLASSES = {rule.id: type(rule) for rule in load_plugins(str(RULES_DIR))}
# Too large to commit as fixtures: their templates are generated in the tests below.
GENERATED = {"W9010", "E9011", "W9012"}


def findings_of(text: str, rule_id: str) -> list[Match]:
    """What the rule `rule_id`, and no other rule, finds in the template `text`."""
    rules = RulesCollection()
    rules.register(RULE_CLASSES[rule_id]())
    return cfnlint.api.lint(text, rules=rules, regions=[REGION])


def expected_count(path: Path) -> int:
    """A bad fixture says `Expect N x RULE` in its header comment."""
    m = re.search(r"Expect (\d+) x (\w+)", path.read_text())
    assert m, f"{path.name} has no 'Expect N x RULE' comment"
    assert m.group(2) == path.name.split("_")[0], f"{path.name} expects another rule"
    return int(m.group(1))


BAD = sorted(FIXTURES.glob("*_bad*.yaml"))
GOOD = sorted(FIXTURES.glob("*_good*.yaml"))


def test_every_rule_loads_and_has_good_and_bad_fixtures():
    declared = set()
    for path in RULES_DIR.glob("[A-Za-z]*.py"):
        declared |= set(re.findall(r'^    id = "([EW]9\d{3})"', path.read_text(), re.M))
    assert set(RULE_CLASSES) == declared
    assert {p.name.split("_")[0] for p in BAD} | GENERATED == declared
    assert {p.name.split("_")[0] for p in GOOD} | GENERATED == declared


def test_the_readme_rules_table_lists_every_rule():
    readme = (PROJECT_ROOT / "README.md").read_text()
    table = readme.split("## The project's cfn-lint rules", 1)[1].split("\n\n")[2]
    assert set(re.findall(r"^\| ([EW]9\d{3}) \|", table, re.M)) == set(RULE_CLASSES)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_fixture_is_caught(path):
    rule_id = path.name.split("_")[0]
    found = findings_of(path.read_text(), rule_id)
    assert len(found) == expected_count(path), "\n".join(map(str, found))
    assert {m.rule.id for m in found} == {rule_id}
    # Each finding points at the offending line, not the top of the file.
    assert all(m.linenumber > 1 for m in found)


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.stem)
def test_good_fixture_passes(path):
    rule_id = path.name.split("_")[0]
    assert findings_of(path.read_text(), rule_id) == []


def _log_groups(n: int, name_length: int = 40) -> str:
    template = {
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
    return json.dumps(template, indent=2, sort_keys=True)


def test_template_over_51200_bytes_needs_s3():
    big = _log_groups(300)
    size = len(big.encode())
    assert 51_200 < size < 1_000_000
    (finding,) = findings_of(big, "W9010")
    assert f"{size:,} bytes" in finding.message
    assert findings_of(_log_groups(10), "W9010") == []


def test_template_over_a_million_bytes_is_an_error():
    huge = _log_groups(400, name_length=2400)
    assert len(huge.encode()) > 1_000_000
    assert len(findings_of(huge, "E9011")) == 1
    # Past the hard limit the S3 warning would be beside the point.
    assert findings_of(huge, "W9010") == []
    assert findings_of(_log_groups(10), "E9011") == []


def test_counts_above_90_percent_of_quota_warn():
    (finding,) = findings_of(_log_groups(451), "W9012")
    assert finding.message.startswith("451 resources")
    assert findings_of(_log_groups(450), "W9012") == []


def test_plain_cfn_lint_runs_the_project_rules():
    # As a user would, outside this project's code: the cfn-lint command and a bad fixture.
    # PYTHONPATH: the rules import `cfn`, which must be this checkout's package.
    fixture = FIXTURES / "E9005_bad.yaml"
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--append-rules",
            str(RULES_DIR),
            "--format",
            "parseable",
            "--",
            str(fixture),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert result.returncode != 0
    ids = re.findall(r":(E9005):", result.stdout)
    assert len(ids) == expected_count(fixture), result.stdout + result.stderr


class _Str(str):
    """Like cfn-lint's decoded strings: a str subclass carrying its position."""


class _Dict(dict):
    """Like cfn-lint's decoded mappings."""


class _Opaque:
    def __str__(self) -> str:
        return "opaque \u00e9"


_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and the infinities included: json writes them as NaN, Infinity
    | st.text()
    | st.text().map(_Str)
    | st.just(_Opaque())
)
_json_like = st.recursive(
    _leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(st.text(max_size=6), inner, max_size=4)
        | st.dictionaries(st.text(max_size=6).map(_Str), inner, max_size=3).map(_Dict)
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(_json_like)
def test_serialised_size_is_the_length_of_the_indented_dump(value):
    # The size rules (E9012, W9010) compute it without writing the text: it must be the same.
    expected = len(json.dumps(value, indent=2, sort_keys=True, default=str).encode())
    assert serialised_size(value) == expected
    assert serialised_size(value) == expected  # asked again (the second rule)


def test_serialised_size_of_every_rendered_template(rendered):
    for r in rendered:
        template = json.loads(r.text)
        assert serialised_size(template) == len(r.text.rstrip("\n").encode()), r.path
