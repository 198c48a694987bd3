"""cfn-lint (and the project's rules) find nothing on any rendered template, and do find
problems in a template that has them, at the right file, line and region."""

from __future__ import annotations

import json
import threading

import pytest

from cfn import lint, naming
from cfn.render import RenderedTemplate


def test_every_template_is_lint_clean(rendered):
    findings = lint.lint(rendered)
    assert findings == [], "\n".join(map(str, findings))


def test_lint_reports_file_line_and_rule_for_a_broken_template(rendered):
    network_file = naming.template_file(naming.NETWORK)
    network = next(r for r in rendered if r.filename == network_file)
    t = json.loads(network.text)
    t["Resources"]["Vpc"]["Properties"]["CidrBlock"] = 42  # not a string
    t["Resources"]["Vpc"]["Properties"]["Nonsense"] = True
    text = json.dumps(t, indent=2, sort_keys=True) + "\n"
    broken = RenderedTemplate(network.env, network_file, text, network.region)
    findings = lint.lint([broken], cache_dir=None)
    rules = {f.rule_id for f in findings}
    assert "E3002" in rules or "E3012" in rules, findings
    nonsense_line = next(i for i, line in enumerate(text.splitlines(), 1) if "Nonsense" in line)
    path = f"templates/{network.env}/{network_file}"
    assert any(f.line == nonsense_line and f.path == path for f in findings), findings


def test_lint_checks_resource_types_against_the_templates_region():
    # Per cfn-lint 1.58's regional schemas, AWS::Billing::BillingView exists in us-east-1 only.
    template = {
        "Resources": {
            "View": {
                "Type": "AWS::Billing::BillingView",
                "Properties": {"Name": "costs", "SourceViews": ["arn:aws:billing::1:view/x"]},
            }
        }
    }
    text = json.dumps(template, indent=2)

    def rule_ids(region: str) -> set[str]:
        found = lint.lint([RenderedTemplate("x", "t.json", text, region)], cache_dir=None)
        return {f.rule_id for f in found}

    assert "E3006" not in rule_ids("us-east-1")
    assert "E3006" in rule_ids("eu-west-1")


def test_ctrl_c_while_the_lint_workers_start_is_an_interrupt_not_a_runtime_error(
    rendered, monkeypatch
):
    # Stands for a SIGINT delivered while ProcessPoolExecutor starts its manager thread (seen
    # in CI): the build must get the KeyboardInterrupt it reports as "interrupted", exit 130.
    from concurrent.futures import ProcessPoolExecutor

    def interrupted(self):
        # As in the standard library: the thread is the pool's before it has started.
        self._executor_manager_thread = threading.Thread(target=lambda: None)
        raise KeyboardInterrupt

    monkeypatch.setattr(ProcessPoolExecutor, "_start_executor_manager_thread", interrupted)

    with pytest.raises(KeyboardInterrupt):
        lint.lint(rendered, cache_dir=None, jobs=2)
