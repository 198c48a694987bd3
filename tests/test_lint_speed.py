"""Lint speed-ups never change findings: with and without each of them, cfn-lint (and the
project's rules) report the same findings, at the same places, over every rendered template of
every environment, the rule tests' broken templates, and rendered templates broken on purpose."""

from __future__ import annotations

import copy
import json
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from cfn import lint, lintpatch
from cfn.render import RenderedTemplate

FIXTURES = Path(__file__).parent / "fixtures" / "rules"


def _break(template: dict[str, Any]) -> dict[str, Any]:
    """The template with a few errors of the kinds cfn-lint's schema checks report: a wrong type,
    an unknown property, a missing required property, a Ref and a GetAtt to nothing, an unknown
    condition; each on a different resource."""
    t = copy.deepcopy(template)
    resources = list(t["Resources"].values())
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
    ]
    for resource, mutate in zip(resources, mutations, strict=False):
        mutate(resource)
    return t


@pytest.fixture(scope="module")
def corpus(rendered: list[RenderedTemplate]) -> list[RenderedTemplate]:
    """Every rendered template, one environment's broken on purpose, and the rule tests'
    fixtures."""
    first_env = rendered[0].env
    broken = [
        RenderedTemplate(
            r.env,
            f"broken-{r.filename}",
            json.dumps(_break(json.loads(r.text)), indent=2, sort_keys=True) + "\n",
            r.region,
        )
        for r in rendered
        if r.env == first_env
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


def test_reused_validator_classes_give_the_same_findings(corpus, rendered):
    first_env = rendered[0].env
    lint._rules()  # loads the rules and applies the patch
    from cfnlint.jsonschema import validators

    try:
        assert lintpatch.apply(), "the installed cfn-lint is the pinned one: the patch applies"
        patched = _findings(corpus)
        lint.lint(corpus[:1], cache_dir=None, jobs=1)  # in this process, not in a worker
        assert validators.create.cache, "the patched create was used"
        lintpatch.remove()
        assert not hasattr(validators.create, "cache")
        plain = _findings(corpus)
    finally:
        lintpatch.apply()
    assert patched == plain
    # The broken templates do give findings, of more than one rule, in every environment.
    assert len({f[5] for f in plain}) >= 5
    assert {f[0].split("/")[1] for f in plain} == {first_env, "fixtures"}


def test_the_patch_leaves_another_cfn_lint_version_alone(monkeypatch):
    from cfnlint.jsonschema import validators

    lintpatch.remove()
    try:
        original = validators.create
        real_version = metadata.version
        monkeypatch.setattr(
            metadata,
            "version",
            lambda name: "1.59.0" if name == "cfn-lint" else real_version(name),
        )
        assert lintpatch.apply() is False
        assert validators.create is original
    finally:
        monkeypatch.undo()
        lintpatch.apply()


def test_a_memoised_class_is_reused_only_for_equal_arguments():
    lint._rules()
    from cfnlint.jsonschema import validators
    from cfnlint.jsonschema._filter import FunctionFilter

    assert lintpatch.apply()
    a = validators.create(validators={"type": len}, function_filter=FunctionFilter())
    assert validators.create(validators={"type": len}, function_filter=FunctionFilter()) is a
    assert validators.create(validators={"type": abs}, function_filter=FunctionFilter()) is not a
    other_filter = FunctionFilter(add_cfn_lint_keyword=False)
    assert validators.create(validators={"type": len}, function_filter=other_filter) is not a
