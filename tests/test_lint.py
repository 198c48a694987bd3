"""cfn-lint (and the project's rules) find nothing on any rendered template, and do find
problems in a template that has them."""

from __future__ import annotations

import json

import pytest

from cfn import lint


def test_every_template_is_lint_clean(rendered):
    findings = lint.lint(rendered)
    assert findings == [], "\n".join(map(str, findings))


def test_lint_reports_file_line_and_rule_for_a_broken_template(rendered):
    from cfn.render import RenderedTemplate

    network = next(r for r in rendered if r.path == "dev/network.json")
    t = json.loads(network.text)
    t["Resources"]["Vpc"]["Properties"]["CidrBlock"] = 42  # not a string
    t["Resources"]["Vpc"]["Properties"]["Nonsense"] = True
    text = json.dumps(t, indent=2, sort_keys=True) + "\n"
    broken = RenderedTemplate("dev", "network.json", text, "eu-west-1")
    findings = lint.lint([broken])
    rules = {f.rule_id for f in findings}
    assert "E3002" in rules or "E3012" in rules, findings
    nonsense_line = next(i for i, line in enumerate(text.splitlines(), 1) if "Nonsense" in line)
    assert any(f.line == nonsense_line and f.path == "templates/dev/network.json" for f in findings)


@pytest.mark.parametrize("region", ["eu-west-1", "us-east-1"])
def test_lint_honours_the_region(rendered, region):
    from cfn.render import RenderedTemplate

    root = next(r for r in rendered if r.path == "dev/root.json")
    assert lint.lint([RenderedTemplate("dev", "root.json", root.text, region)]) == []
