"""Each of cfn/lintpatch*.py's patches of cfn-lint: in effect under the pinned cfn-lint, the same
findings with it alone as without any, put back by `remove()`, and not applied to another
cfn-lint version or to a function whose code is not the one it was written against.

(All of them together against none, over the whole corpus: tests/test_lint_speed.py.)"""

from __future__ import annotations

import inspect
import sys
from importlib import metadata
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cfn import lint, lintpatch
from tests.test_lint_speed import _findings, corpus  # noqa: F401 (a fixture)

NAMES = [
    "create",
    "validator-evolve",
    "context-evolve",
    "path-descend",
    "path-evolve",
    "filter-evolve",
    "context-module-names",
    "cfnlint-index",
    "rules-run",
    "extend-validator",
    "regex-compiled-once",
    "resolver-subschemas",
    "resolver-fragment",
    "resolver-caches",
    "template-deep-keys",
    "template-getatts",
    "filter-once",
    "filter-schemas",
    "str-node-init",
    "yaml-map",
    "enum-set",
    "conditions-none",
    "updatepolicy-absent",
    "sub-pseudo",
]
CODE_PATCHES = {"enum-set"}  # they replace the code of cfn-lint's function object, not the object


def _target(name: str) -> tuple[Any, str]:
    """Where the patch `name` puts its function: (class or module, attribute)."""
    from cfnlint.context import context
    from cfnlint.context.conditions._conditions import Conditions
    from cfnlint.decode import cfn_yaml, node
    from cfnlint.jsonschema import _keywords, validators
    from cfnlint.jsonschema._filter import FunctionFilter
    from cfnlint.rules import _rules
    from cfnlint.rules.jsonschema.Base import BaseJsonSchema
    from cfnlint.schema.resolver import RefResolver
    from cfnlint.template import template

    return {
        "create": (validators, "create"),
        "validator-evolve": (validators.StandardValidator, "evolve"),
        "context-evolve": (context.Context, "evolve"),
        "path-descend": (context.Path, "descend"),
        "path-evolve": (context.Path, "evolve"),
        "filter-evolve": (FunctionFilter, "evolve"),
        "cfnlint-index": (type(lint._rules()["E1101"]), "cfnLint"),
        "rules-run": (_rules.Rules, "run"),
        "extend-validator": (BaseJsonSchema, "extend_validator"),
        "regex-compiled-once": (template, "re"),  # one of the modules that use it
        "resolver-subschemas": (RefResolver, "_get_subschemas_cache"),
        "resolver-fragment": (RefResolver, "resolve_fragment"),
        "resolver-caches": (RefResolver, "__post_init__"),
        "template-deep-keys": (template.Template, "search_deep_keys"),
        "filter-once": (FunctionFilter, "filter"),
        "filter-schemas": (FunctionFilter, "_filter_schemas"),
        "str-node-init": (node.str_node, "__init__"),
        "yaml-map": (cfn_yaml.NodeConstructor, "construct_yaml_map"),
        "template-getatts": (template.Template, "get_valid_getatts"),
        "context-module-names": (context.Context, "module_names"),
        "enum-set": (_keywords, "enum"),
        "conditions-none": (Conditions, "evolve_from_instance"),
        "updatepolicy-absent": (type(lint._rules()["E3016"]), "validate"),
        "sub-pseudo": (type(lint._rules()["E1019"]), "_validate_string"),
    }[name]


def _current(name: str) -> Any:
    """What the patch `name` replaces: a function (or cached property), or a function's code."""
    owner, attribute = _target(name)
    found = owner.__dict__[attribute]
    return found.__code__ if name in CODE_PATCHES else found


@pytest.fixture
def plain():
    """No patch applied during the test; all of them again after it."""
    lint._rules()
    lintpatch.remove()
    yield
    lintpatch.remove()
    assert lintpatch.apply()


def test_every_patch_is_tested_here():
    assert [p.name for p in lintpatch.patches()] == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_the_patch_is_in_effect_and_remove_puts_cfn_lint_s_own_back(name, plain):
    original = _current(name)
    if name in CODE_PATCHES:
        assert "/cfnlint/" in original.co_filename
    else:
        read = getattr(original, "func", original)  # a cached property: its function
        module = getattr(read, "__module__", read.__name__)
        # A rule's class: cfn-lint loads its file as a module named after it.
        assert module.startswith(("cfnlint", "CfnLint", "Configuration", "Sub", "regex"))
    assert lintpatch.apply([name])
    assert lintpatch.applied() == {name}
    patched = _current(name)
    assert patched is not original
    if name in CODE_PATCHES:
        assert patched.co_filename.endswith(f"cfn/lintpatch_{name.split('-')[0]}.py")
    else:
        assert patched.__module__.startswith("cfn.lintpatch")
        assert inspect.unwrap(patched) is original
    lintpatch.remove()
    assert _current(name) is original and lintpatch.applied() == set()


def test_the_patches_are_used_when_linting(rendered):
    from cfnlint.jsonschema import validators

    from cfn import lintpatch_rules

    assert lintpatch.apply()
    e1101 = lint._rules()["E1101"]
    vars(e1101).pop(lintpatch_rules.INDEX_ATTRIBUTE, None)
    lint.lint(rendered[:1], cache_dir=None, jobs=1)
    assert validators.create.cache, "validator classes were made through the memoised create"
    assert lintpatch_rules.INDEX_ATTRIBUTE in vars(e1101), "E1101 looked its rules up in an index"
    skipped = lintpatch_rules._base_resource_properties(lint._rules())
    assert len(skipped) > len(lint._rules().data) / 2, "rules whose per-resource call is skipped"
    made = next(iter(validators.create.cache.values()))
    assert made.evolve.__module__ == "cfn.lintpatch_create", "a made class has the fast evolve"


@pytest.fixture(scope="module")
def with_findings(corpus):  # noqa: F811
    """Templates that give findings (the rule tests' fixtures and a broken template), and their
    findings with no patch applied."""
    broken = next(t for t in corpus if t.filename.startswith("broken"))
    templates = [broken, *(t for t in corpus if t.env == "fixtures")]
    lint._rules()
    lintpatch.remove()
    try:
        found = _findings(templates)
    finally:
        lintpatch.apply()
    assert {f[0].split("/")[1] for f in found} == {broken.env, "fixtures"}
    return templates, found


@pytest.mark.parametrize("name", NAMES)
def test_the_patch_alone_gives_the_same_findings(name, with_findings, plain):
    templates, without = with_findings
    assert lintpatch.apply([name])
    assert _findings(templates) == without


@pytest.mark.parametrize("version", ["1.59.0", "1.57.3", "2.0.0", "unknown"])
def test_the_patches_leave_another_cfn_lint_version_alone(version, plain, monkeypatch):
    before = {name: _current(name) for name in NAMES}
    real_version = metadata.version
    monkeypatch.setattr(
        metadata, "version", lambda n: version if n == "cfn-lint" else real_version(n)
    )
    try:
        assert lintpatch.apply() is False
        assert lintpatch.applied() == set()
        assert {name: _current(name) for name in NAMES} == before
    finally:
        monkeypatch.undo()  # before `plain` applies the patches again


@pytest.mark.parametrize("name", NAMES)
def test_a_patch_leaves_a_function_it_was_not_written_against_alone(name, plain):
    owner, attribute = _target(name)
    original = owner.__dict__[attribute]

    def changed(*args: Any, **kwargs: Any) -> Any:  # another version's function, say
        return original(*args, **kwargs)

    setattr(owner, attribute, changed)
    try:
        lintpatch.apply()
        assert owner.__dict__[attribute] is changed
        assert changed.__code__.co_filename == __file__  # its code left alone too
        lintpatch.remove()
    finally:
        setattr(owner, attribute, original)
    assert lintpatch.apply() and _current(name) is not original


def test_the_regex_patch_leaves_another_regex_alone(plain, monkeypatch):
    import regex
    from cfnlint.template import template

    real_search = regex.search
    monkeypatch.setattr(regex, "search", lambda *a, **k: real_search(*a, **k))
    try:
        assert lintpatch.apply() is False
        assert "regex-compiled-once" not in lintpatch.applied()
        assert template.re is regex
    finally:
        monkeypatch.undo()  # before `plain` applies the patches again


def test_compiled_once_gives_what_regex_gives():
    import regex

    from cfn.lintpatch_regex import CompiledOnce

    once = CompiledOnce(regex)
    for _ in range(2):  # compiling, then from the cache
        assert once.match(r"a(b)?", "abc").span() == regex.match(r"a(b)?", "abc").span()
        assert once.findall(r"\$\{([^}]+)\}", "${A}-${B}") == ["A", "B"]
        assert once.sub(r"\d", "#", "a1b22") == "a#b##"
        assert once.split(r",", "a,b") == ["a", "b"]
        assert once.fullmatch(r"[a-z]+", "abc1") is None
        assert once.search(r"(?i)B", "abc").group() == "b"
    compiled = regex.compile(r"^Fn::ForEach::[a-zA-Z0-9]+$")
    name = "Fn::ForEach::X"
    assert once.match(compiled, name).span() == regex.match(compiled, name).span()
    assert once.match(compiled, "Fn::If") is None
    assert once.match(r"a", "A", regex.IGNORECASE)  # flags: regex's own function
    with pytest.raises(ValueError):  # as regex: no flags with a compiled pattern
        once.match(compiled, "x", regex.IGNORECASE)
    assert once.escape is regex.escape
    with pytest.raises(regex.error):
        once.search(r"(", "x")


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


class _Rule:
    def __init__(self, rule_id: str, keywords: list[str]) -> None:
        self.id = rule_id
        self.keywords = keywords


def test_the_keyword_index_keeps_cfn_lint_s_order_skips_and_repeats():
    from cfn.lintpatch_rules import keyword_index

    a, b, c = _Rule("E1", ["x", "y", "x"]), _Rule("E2", ["y"]), _Rule("", ["x"])
    assert keyword_index((a, None, c, b)) == {"x": [a, a], "y": [a, b]}
    assert keyword_index((a, _Rule("E3", [("not", "a", "string")]))) is None


def test_the_keyword_index_follows_a_change_of_child_rules_outside_a_run():
    from cfn.lintpatch_rules import index_of

    owner = _Rule("E1101", [])
    owner.child_rules = {"E1": _Rule("E1", ["x"])}  # type: ignore[attr-defined]
    assert [r.id for r in index_of(owner)["x"]] == ["E1"]
    owner.child_rules["E1"] = _Rule("E1", ["y"])  # type: ignore[attr-defined]
    assert set(index_of(owner)) == {"y"}
    owner.child_rules["E1"] = None  # type: ignore[attr-defined]
    assert index_of(owner) == {}


def _copies() -> list[Any]:
    """Copies of a context and a path as cfn-lint makes them (attributes in order)."""
    from cfnlint.context import context

    plain = context.Context(regions=["eu-west-1"], ref_values={"A": 1})
    cached = context.Context(regions=["eu-west-1"])
    assert cached.module_names == ()  # now a cached value among the instance's attributes
    path = context.Path().descend(path="Resources", cfn_path="Resources")
    made = [
        plain.evolve(strict_types=False, ref_values={"B": 2}),
        plain.evolve(),
        cached.evolve(is_resolved_value=True),
        path.descend(path="Bucket", cfn_path="AWS::S3::Bucket"),
        path.evolve(value_path=["Parameters"]),
    ]
    return [(type(m), vars(m).copy(), list(vars(m))) for m in made]


def test_the_copies_are_what_cfn_lint_s_constructor_makes(plain):
    without = _copies()
    assert lintpatch.apply(["context-evolve", "path-descend", "path-evolve"])
    assert _copies() == without
    assert without[0][1]["ref_values"] == {"A": 1, "B": 2}
    assert "module_names" not in without[2][1]


def _validator_copies(base: Any) -> list[Any]:
    """Copies of cfn-lint's validator as it makes them, one after an instance was changed the
    way its GetAtt rule changes one (`validators` set on the instance)."""
    changed = base.evolve(schema={"type": "number"})
    changed.validators = {}  # evolve gives a copy the class's validators again
    made = [
        base.evolve(schema={"type": "number"}),
        changed.evolve(),
        base.evolve(context=None),  # filled in from the template by __post_init__
    ]
    return [(type(m), {k: v for k, v in vars(m).items() if k != "resolver"}) for m in made]


def test_the_validator_copies_are_what_cfn_lint_s_constructor_makes(plain):
    from cfnlint.jsonschema import validators

    base = validators.StandardValidator({"type": "string"})
    without = _validator_copies(base)
    assert lintpatch.apply(["validator-evolve"])
    assert _validator_copies(base) == without
    assert without[1][1]["validators"] and without[2][1]["context"] is not None


def test_a_validator_copy_skips_the_constructor_only_when_it_would_change_nothing(plain):
    from cfnlint.jsonschema import validators

    cls = validators.StandardValidator
    base = cls({"type": "string"})
    assert lintpatch.apply(["validator-evolve"])
    init, calls = cls.__init__, []

    def counted(self: Any, **kwargs: Any) -> None:
        calls.append(kwargs)
        init(self, **kwargs)

    cls.__init__ = counted  # type: ignore[method-assign]
    try:
        base.evolve(schema={"type": "number"})
        assert calls == []
        base.evolve(context=None)
        assert len(calls) == 1
    finally:
        cls.__init__ = init  # type: ignore[method-assign]


SCHEMA_WITH_IDS = {
    "$id": "root",
    "definitions": {
        "A": {"id": "#a", "properties": {"x": {"$id": "#x", "$anchor": "ax"}}},
        "B": {"$id": "#b", "items": [{"id": "#in-a-list"}]},  # the walk skips lists
    },
    "properties": {"y": {"$ref": "#/definitions/A"}, "z": {"$dynamicAnchor": "dz"}},
}


def _resolved(schema: dict[str, Any]) -> list[Any]:
    from cfnlint.schema.resolver import RefResolutionError, RefResolver

    resolver = RefResolver.from_schema(schema)
    found: list[Any] = [resolver._get_subschemas_cache()]
    for fragment in ("a", "x", "b", "in-a-list", "/definitions/B/items/0", "/nothing"):
        try:
            found.append(resolver.resolve_fragment(schema, fragment))
        except RefResolutionError as e:
            found.append(str(e))
    return found


def test_the_resolver_finds_what_cfn_lint_s_walk_finds(plain):
    import copy

    without = _resolved(SCHEMA_WITH_IDS)
    assert lintpatch.apply(["resolver-subschemas", "resolver-fragment"])
    assert _resolved(SCHEMA_WITH_IDS) == without
    assert _resolved(SCHEMA_WITH_IDS) == without  # searched before: the kept result
    equal_but_other = copy.deepcopy(SCHEMA_WITH_IDS)
    equal_but_other["definitions"]["C"] = {"id": "#c"}
    assert _resolved(equal_but_other)[0]["id"][-1] == {"id": "#c"}
    assert without[2] == {"$id": "#x", "$anchor": "ax"} and "Unresolvable" in without[-1]


DEEP_TREE = {
    "Resources": {
        "A": {"Properties": {"Password": {"Ref": "P"}, "List": [{"Ref": "Q"}, [{"Ref": "R"}]]}},
        "B": {"Condition": "C", "Metadata": {"Ref": {"Ref": "nested"}}, 1: {"Ref": "int key"}},
    },
    "Outputs": {"O": {"Value": {"Fn::Sub": "${A}"}, "Condition": "C"}},
    "Parameters": {"P": {"NoEcho": True}},
}


def _searches(tree: dict[str, Any], transform_pre: dict[str, Any] | None = None) -> list[Any]:
    """What a template made from `tree` gives for a few searches, each asked twice (the second
    from cfn-lint's per-template cache)."""
    from cfnlint.template.template import Template

    made = Template(None, tree, ["eu-west-1"])
    if transform_pre is not None:
        made.transform_pre.update(transform_pre)
    keys = ["Ref", "Condition", "Password", "Fn::Sub", "NoSuchKey", "1", "P"]
    found = [made.transform_pre[k] for k in ("Ref", "Fn::Sub", "Fn::If", "Fn::FindInMap")]
    found += [made.search_deep_keys(k) for k in keys + keys]
    found += [made.search_deep_keys("Ref", includeGlobals=False)]
    return found


@pytest.mark.parametrize(
    "tree, transform_pre",
    [
        (DEEP_TREE, None),
        ({**DEEP_TREE, "Transform": "AWS::Serverless-2016-10-31"}, None),
        (DEEP_TREE, {"Globals": {"Function": {"Ref": "G"}}}),
    ],
    ids=["plain", "with a transform", "with globals"],
)
def test_one_walk_finds_what_cfn_lint_s_walks_find(tree, transform_pre, plain):
    without = _searches(tree, transform_pre)
    assert lintpatch.apply(["template-deep-keys"])
    assert _searches(tree, transform_pre) == without
    refs = without[4]
    assert refs[0] == ["Resources", "A", "Properties", "Password", "Ref", "P"]
    assert ["Resources", "B", "Metadata", "Ref", {"Ref": "nested"}] in refs
    assert ["Resources", "B", "Metadata", "Ref", "Ref", "nested"] in refs


def test_one_walk_finds_what_cfn_lint_s_walks_find_in_rendered_templates(rendered, plain):
    from cfnlint.decode.decode import decode_str
    from cfnlint.template.template import Template

    from cfn.lintpatch_template import deep_keys

    for r in rendered:
        tree = decode_str(r.text)[0]
        index = deep_keys(tree)
        walker = Template(None, {}, ["eu-west-1"])
        assert len(index) > 10
        for key, paths in index.items():
            assert [list(p) for p in paths] == walker._search_deep_keys(key, tree, [])


def test_the_searches_give_new_lists_and_follow_a_new_tree(plain):
    from cfnlint.template.template import Template

    assert lintpatch.apply(["template-deep-keys"])
    made = Template(None, DEEP_TREE, ["eu-west-1"])
    search = Template.search_deep_keys  # the method itself, not the template's cache of it
    search(made, "Condition")[0].append("changed by a caller")
    assert search(made, "Condition")[0] == ["Resources", "B", "Condition", "C"]
    made.template = {"Resources": {"X": {"Condition": "Other"}}}  # as a transform does
    assert search(made, "Condition") == [["Resources", "X", "Condition", "Other"]]


def _filtered() -> list[Any]:
    """What cfn-lint's function filter gives for values of each kind it tells apart."""
    from cfnlint.context import Path
    from cfnlint.jsonschema.validators import CfnTemplateValidator

    validator = CfnTemplateValidator({})
    in_a_sub = validator.evolve(
        context=validator.context.evolve(path=Path().descend(path="Fn::Sub"))
    )
    schema = {"type": "string", "required": ["A"], "minLength": 1}
    cases = [
        (validator, "{{resolve:ssm:/a/b}}", schema),
        (in_a_sub, "{{resolve:ssm:/a/b}}", schema),
        (validator, "{{ resolve:ssm:/a/b }}", schema),
        (validator, "AWS::Region", schema),
        (validator, "plain", {"cfnContext": {"functions": []}}),
        (validator, {"Ref": "AWS::Region"}, schema),
        (validator, {"A": {"Fn::If": ["C", 1, {"Ref": "AWS::NoValue"}]}}, schema),
        (validator, ["x", 1], {"type": "array"}),
        (validator.evolve(context=validator.context.evolve(functions=[])), "x", schema),
    ]
    found = []
    for v, instance, s in cases:
        found.append(
            [
                (i, s, v.context.conditions.status)
                for i, s, v in v.function_filter.filter(v, instance, s)
            ]
        )
    return found


def test_the_function_filter_gives_what_cfn_lint_s_gives(plain):
    without = _filtered()
    assert lintpatch.apply(["filter-once"])
    assert _filtered() == without
    kinds = [next(iter(triples[0][1])) if triples else None for triples in without]
    assert kinds[:5] == [
        "dynamicReference",
        None,
        "dynamicReferenceSpaces",
        "rawPseudoParameter",
        "cfnContext",
    ]
    assert len(without[6]) >= 2  # the group keywords once per scenario, then the rest


DOCUMENTS = {
    "json": '{\n  "A": {"B": [1, "x", {"C": null}], "D": "y"},\n  "E": {}\n}\n',
    "yaml": "A: !Ref B\nC:\n  - !Sub '${AWS::Region}'\n  - {D: 1, E: [f, g]}\n",
    "anchors": "A: &a {B: 1, C: [x]}\nD: *a\nE:\n  <<: *a\n  F: 2\n",
    "value key": "A:\n  =: 1\n  B: 2\n",
    "duplicate": "A: 1\nB: 2\nA: 3\n",
    "duplicates": '{"A": {"B": 1, "B": 2, "B": 3}}',
    "null key": "A:\n  ~: 1\n",
    "complex key": "? [a, b]\n: 1\n",
    "equal keys": "A:\n  1: x\n  1.0: y\n",
    "tab": '{\n\t"A": "b"\n}',
}


def _decoded(text: str) -> Any:
    """cfn-lint's decoding of `text`: each node with its type and marks, or its errors."""
    from cfnlint.decode.decode import decode_str

    def node(value: Any) -> Any:
        marks = [
            (m.line, m.column) if hasattr(m, "line") else m
            for m in (getattr(value, "start_mark", None), getattr(value, "end_mark", None))
        ]
        if isinstance(value, dict):
            inner: Any = [(node(k), node(v)) for k, v in value.items()]
        elif isinstance(value, list):
            inner = [node(v) for v in value]
        else:
            inner = value
        return (type(value).__name__, marks, getattr(value, "using_merge", None), inner)

    template, matches = decode_str(text)
    return node(template), [(m.rule.id, m.message, m.linenumber, m.columnnumber) for m in matches]


def test_the_decoder_makes_the_same_nodes_and_errors(rendered, plain):
    from cfn.lintpatch_decode import constructor_in_use

    texts = [*DOCUMENTS.values(), *(r.text for r in rendered[:8])]
    without = [_decoded(t) for t in texts]
    in_use = constructor_in_use()
    assert lintpatch.apply(["str-node-init", "yaml-map"])
    assert constructor_in_use() is not in_use  # the loader calls the patched method
    assert [_decoded(t) for t in texts] == without
    found = dict(zip(DOCUMENTS, without, strict=False))
    assert [m[0] for m in found["duplicate"][1]] == ["E0000", "E0000"]
    assert len(found["duplicates"][1]) == 3 and found["null key"][1]
    assert found["anchors"][0][3][2][1][2] is True  # the merge is recorded on the node
    lintpatch.remove()
    assert constructor_in_use() is in_use


def _with_settings(templates: list[Any]) -> list[Any]:
    """Findings under a configuration that sets what `Rules.run` reads for each rule."""
    from cfnlint.config import ConfigMixIn
    from cfnlint.decode.decode import decode_str
    from cfnlint.runner.template.runner import _run_template

    config = ConfigMixIn(
        [],
        regions=["eu-west-1"],
        ignore_checks=["W3", "E3012"],
        include_checks=["I"],
        mandatory_checks=["W3005"],
        include_experimental=True,
        configure_rules={"E3012": {"strict": True}},
    )
    found = []
    for t in templates:
        matches = _run_template(t.filename, decode_str(t.text)[0], config, lint._rules())
        found += sorted((m.rule.id, m.linenumber, m.message) for m in matches)
    return found


def test_the_rules_run_reads_the_configuration_s_settings_as_cfn_lint_does(with_findings, plain):
    templates = with_findings[0][:3]
    without = _with_settings(templates)
    assert lintpatch.apply(["rules-run"])
    assert _with_settings(templates) == without
    ids = {f[0] for f in without}
    assert any(i.startswith("I") for i in ids) and "E3012" not in ids
    assert not any(i.startswith("W3") and i != "W3005" for i in ids)


MODULES_TREE = {
    "Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Mod": {"Type": "My::Thing::Widget::MODULE"},
        "Fn": {"Type": "AWS::Serverless::Function", "Properties": {}},
        "Role": {"Type": "AWS::IAM::Role"},
    }
}


def _getatts_and_modules(tree: dict[str, Any]) -> list[Any]:
    """What a template made from `tree` gives for its GetAtt attributes and its modules, asked
    twice, then for other regions, and what copies of its context give for the modules."""
    from cfnlint.template.template import Template

    made = Template(None, tree, ["eu-west-1", "us-east-1"])

    def attributes() -> Any:
        found = made.get_valid_getatts()
        return {r: {k: dict(v) for k, v in d.data.items()} for r, d in found._getatts.items()}

    copy = made.context.evolve(strict_types=False)
    found = [attributes(), attributes(), made.context.module_names, copy.module_names]
    made.regions = ["eu-central-1"]
    found += [attributes()]
    return found


def test_the_kept_attributes_and_modules_are_cfn_lint_s(plain):
    without = _getatts_and_modules(MODULES_TREE)
    assert lintpatch.apply(["template-getatts", "context-module-names"])
    assert _getatts_and_modules(MODULES_TREE) == without
    assert without[2] == ("Mod", "Fn") and "Arn" in without[0]["eu-west-1"]["Bucket"]
    assert list(without[4]) == ["eu-central-1"]


def test_the_kept_answers_follow_the_template_s_resources(plain):
    from cfnlint.template.template import Template

    assert lintpatch.apply(["template-getatts", "context-module-names"])
    made = Template(None, MODULES_TREE, ["eu-west-1"])
    first = made.get_valid_getatts()
    assert made.get_valid_getatts() is first and made.context.module_names == ("Mod", "Fn")
    other = Template(None, {"Resources": {"Mod2": {"Type": "A::B::C::MODULE"}}}, ["eu-west-1"])
    made.context = other.context  # as a transform makes a new context
    assert made.get_valid_getatts() is not first
    assert made.context.module_names == ("Mod2",)
    assert "module_names" not in vars(made.context)  # copies of it keep the fast path


def _resolver_answers() -> tuple[list[Any], Any]:
    """What a resolver answers for references (twice, then in another scope), and the
    resolver."""
    from cfnlint.schema.resolver import RefResolutionError, RefResolver

    schema = {"definitions": {"A": {"type": "string"}}, "items": {"$ref": "#/definitions/A"}}
    resolver = RefResolver.from_schema(schema)
    found: list[Any] = [resolver.resolve("#/definitions/A"), resolver.resolve("#/definitions/A")]
    resolver.push_scope("sub/")
    found.append(resolver.resolution_scope)
    try:
        resolver.resolve("other.json#/x")
    except RefResolutionError as e:  # not in the store: nothing fetched
        found.append(str(e))
    resolver.pop_scope()
    found += [resolver.resolve("#/items"), resolver.resolution_scope]
    return found, resolver


def test_a_resolver_s_caches_are_made_at_first_use_and_answer_as_cfn_lint_s(plain):
    from cfnlint.schema.resolver import RefResolver

    without, plain_resolver = _resolver_answers()
    assert lintpatch.apply(["resolver-caches"])
    found, resolver = _resolver_answers()
    assert found == without and without[0] == ("#/definitions/A", {"type": "string"})
    assert type(resolver._cache) is type(plain_resolver._cache)  # the lru_cache, now made
    assert resolver._cache.cache_info().hits == plain_resolver._cache.cache_info().hits > 0
    fresh = RefResolver.from_schema({})
    assert fresh._urljoin_cache is resolver._urljoin_cache  # one cache of urljoin for all
    assert type(fresh._cache_cfn_pointer).__name__ == "CacheAtFirstCall"
    assert fresh._cache_cfn_pointer("/definitions") == fresh.resolve_cfn_pointer("/definitions")


# -- enum-set: the enum keyword's answers and errors, with and without the patch ---------------

BOOLEAN_LIKE = ["true", "false", "True", "FALSE", "tRuE", "0", "1", "5", "None", "", "x", "X"]


def _str_node(text: str) -> Any:
    from cfnlint.decode.node import Mark, str_node

    return str_node(text, Mark(1, 2), Mark(1, 3))


_words = st.one_of(st.sampled_from(BOOLEAN_LIKE), st.text(max_size=6))
_enum_values = st.one_of(
    _words,
    _words.map(_str_node),
    st.integers(-3, 7),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, width=16),
    st.lists(_words, max_size=2),
)
_instances = st.one_of(
    _words,
    _words.map(_str_node),
    st.integers(-3, 7),
    st.booleans(),
    st.floats(allow_nan=False, width=16),
    st.dictionaries(_words, _words, max_size=1),
)


def _enum_errors(enums: list[Any], instance: Any) -> list[tuple[str, str]]:
    from cfnlint.jsonschema import _keywords

    return [(type(e).__name__, e.message) for e in _keywords.enum(None, enums, instance, {})]


@settings(max_examples=400, deadline=None)
@given(st.lists(_enum_values, max_size=6), _instances)
def test_the_enum_set_answers_as_cfn_lint_s_comparison(enums, instance):
    patch = next(p for p in lintpatch.patches() if p.name == "enum-set")
    patch.uninstall()
    without = _enum_errors(enums, instance)
    try:
        assert patch.install()
        assert _enum_errors(enums, instance) == without
        assert _enum_errors(list(enums), instance) == without  # an equal list: a kept set
    finally:
        patch.uninstall()
        assert lintpatch.apply()


def test_the_enum_set_finds_a_string_without_comparing_each_value(plain, monkeypatch):
    from cfnlint.jsonschema import _keywords

    regions = [f"xx-region-{n}" for n in range(100)]
    assert lintpatch.apply(["enum-set"])
    compared: list[Any] = []
    real_equal = _keywords.equal
    monkeypatch.setattr(_keywords, "equal", lambda a, b: compared.append(a) or real_equal(a, b))
    try:
        assert _enum_errors(regions, _str_node("xx-region-42")) == []
        assert _enum_errors(regions, "no-region") == [
            ("ValidationError", f"'no-region' is not one of {regions!r}")
        ]
        assert _enum_errors([*regions, False], "anything") == []  # a string is "false"
        assert compared == []
        assert _enum_errors(regions, 42) != [] and compared  # not a string: cfn-lint's code
    finally:
        monkeypatch.undo()  # before `plain` applies the patches again


# -- conditions-none: scenarios of values with and without Fn::If -------------------------------

_leaves = st.one_of(
    st.sampled_from(["a", "b", 1, True, None]),
    st.just({"Ref": "AWS::NoValue"}),
    st.just({"Ref": "Bucket"}),
)


def _with_ifs(children: Any) -> Any:
    names = st.sampled_from(["IsProd", "IsDev", "NoSuchCondition"])
    return st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(["A", "B", "Fn::If", "Ref"]), children, max_size=3),
        st.tuples(names, children, children).map(lambda t: {"Fn::If": list(t)}),
        st.tuples(names, children).map(lambda t: {"Fn::If": list(t)}),  # not three arguments
    )


_values = st.recursive(_leaves, _with_ifs, max_leaves=12)


def _shape(value: Any) -> Any:
    """A value with its containers' types and marks, to compare copies by."""
    marks = (repr(getattr(value, "start_mark", None)), repr(getattr(value, "end_mark", None)))
    if isinstance(value, dict):
        return (type(value).__name__, marks, [(k, _shape(v)) for k, v in value.items()])
    if isinstance(value, list):
        return (type(value).__name__, marks, [_shape(v) for v in value])
    return (type(value).__name__, value)


def _scenarios(value: Any) -> list[Any]:
    from cfnlint.template.template import Template

    template = Template(
        None,
        {
            "Conditions": {
                "IsProd": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]},
                "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
            },
            "Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}},
        },
        ["eu-west-1"],
    )
    context = template.context.evolve(functions=["Fn::If", "Ref"])
    found = context.conditions.evolve_from_instance(value, context=context)
    return [(_shape(v), c.status, c is context.conditions) for v, c in found]


@settings(max_examples=300, deadline=None)
@given(_values)
def test_the_scenarios_of_a_value_are_cfn_lint_s(value):
    from cfnlint.context.conditions._utils import get_conditions_from_property

    from cfn.lintpatch_conditions import reaches_if

    if not reaches_if(value):
        assert get_conditions_from_property(value) == set()
    patch = next(p for p in lintpatch.patches() if p.name == "conditions-none")
    patch.uninstall()
    without = _scenarios(value)
    try:
        assert patch.install()
        assert _scenarios(value) == without
    finally:
        patch.uninstall()
        assert lintpatch.apply()


def test_a_value_without_fn_if_gets_its_scenario_without_a_search(plain, monkeypatch):
    from cfnlint.context.conditions import _conditions

    value = {"A": [{"Ref": "AWS::NoValue"}, "x"], "B": {"Ref": "AWS::NoValue"}, "C": "c"}
    assert lintpatch.apply(["conditions-none"])
    searched: list[Any] = []
    search = _conditions.get_conditions_from_property
    monkeypatch.setattr(
        _conditions, "get_conditions_from_property", lambda v: searched.append(v) or search(v)
    )
    try:
        found = _scenarios(value)
        assert searched == [] and len(found) == 1 and found[0][2]
        assert found[0][0][2] == [
            ("A", ("list_node", found[0][0][2][0][1][1], [("str", "x")])),
            ("C", ("str", "c")),
        ]
        assert _scenarios({"A": {"Fn::If": ["IsProd", "x", "y"]}}) and searched  # cfn-lint's
    finally:
        monkeypatch.undo()  # before `plain` applies the patches again


# -- filter-schemas: a schema split as cfn-lint splits it --------------------------------------

_schema_keys = st.sampled_from(
    [
        "required",
        "minItems",
        "if",
        "then",
        "else",
        "uniqueItems",
        "dependencies",
        "type",
        "properties",
        "items",
        "cfnLint",
        "additionalProperties",
        "patternProperties",
        "$ref",
        "enum",
        "maxLength",
        "x",
    ]
)
_schema_values = st.one_of(
    st.sampled_from(["object", "array", "string", "E1", ["E2"], ("E3",), {}]),
    st.lists(st.sampled_from(["object", "array", "string", "E4"]), max_size=3),
)


def _split(schema: dict[str, Any], filters: list[Any], paths: list[Any]) -> list[Any]:
    from types import SimpleNamespace

    found = []
    for function_filter in filters:
        for path in paths:
            validator = SimpleNamespace(context=SimpleNamespace(path=path))
            found.append(repr(function_filter._filter_schemas(schema, validator)))
    found.append(schema)  # left as it was
    return found


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_schema_keys, _schema_values, max_size=6))
def test_a_schema_is_split_as_cfn_lint_splits_it(schema):
    from cfnlint.context.context import Path
    from cfnlint.jsonschema._filter import FunctionFilter

    other = FunctionFilter()
    other.group_functions = ["type", "items"]  # not cfn-lint's names: looked up in this list
    filters = [FunctionFilter(), FunctionFilter(add_cfn_lint_keyword=False), other]
    paths = [
        Path(),
        Path().descend(path="Resources", cfn_path="Resources").descend(path="A", cfn_path="B"),
        Path().descend(path="Fn::If"),
    ]
    patch = next(p for p in lintpatch.patches() if p.name == "filter-schemas")
    patch.uninstall()
    without = _split(schema, filters, paths)
    try:
        assert patch.install()
        assert _split(schema, filters, paths) == without
    finally:
        patch.uninstall()
        assert lintpatch.apply()


# -- updatepolicy-absent: E3016 on resources without UpdatePolicy -------------------------------

_POLICY_TYPES = [
    "AWS::AutoScaling::AutoScalingGroup",
    "AWS::Lambda::Alias",
    "AWS::OpenSearchService::Domain",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::AppStream::Fleet",
    "AWS::S3::Bucket",  # takes no UpdatePolicy
    "AWS::SNS::Topic",
]
_policies = st.sampled_from(
    [
        {"AutoScalingRollingUpdate": {"MaxBatchSize": 1, "PauseTime": "PT5M"}},
        {"AutoScalingRollingUpdate": {"MaxBatchSize": "many"}},
        {"CodeDeployLambdaAliasUpdate": {"ApplicationName": "a", "DeploymentGroupName": "g"}},
        {"EnableVersionUpgrade": True},
        {"UseOnlineResharding": True},
        {},
        "not an object",
        {"Fn::Select": [0, [{}]]},
        {"Fn::If": ["IsProd", {"EnableVersionUpgrade": True}, {"Ref": "AWS::NoValue"}]},
        {"Ref": "Topic"},
    ]
)
_resources = st.fixed_dictionaries(
    {"Type": st.one_of(st.sampled_from(_POLICY_TYPES), st.just({"Ref": "Kind"}))},
    optional={
        "UpdatePolicy": _policies,
        "Condition": st.just("IsProd"),
        "DeletionPolicy": st.sampled_from(
            ["Retain", {"Fn::If": ["IsProd", "Retain", "Delete"]}, "Sometimes"]
        ),
        "Properties": st.just({}),
        "Metadata": st.just({"Fn::If": ["IsProd", {"a": 1}, {"Ref": "AWS::NoValue"}]}),
    },
)


def _e3016_template(resources: dict[str, Any]) -> str:
    import json

    return json.dumps(
        {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Parameters": {"Kind": {"Type": "String"}},
            "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]}},
            "Resources": {**resources, "Topic": {"Type": "AWS::SNS::Topic"}},
        }
    )


def _all_findings(text: str) -> list[tuple[Any, ...]]:
    return sorted(
        (m.rule.id, m.linenumber, m.columnnumber, m.message)
        for m in lint.lint_text("t.json", text, "eu-west-1")
    )


def _without_and_with(name: str, text: str) -> tuple[list[Any], list[Any]]:
    """The findings on `text` without the patch `name` (the others applied), then with it."""
    patch = next(p for p in lintpatch.patches() if p.name == name)
    lint._rules()
    patch.uninstall()
    try:
        without = _all_findings(text)
        assert patch.install()
        return without, _all_findings(text)
    finally:
        patch.uninstall()
        assert lintpatch.apply()


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["A", "B", "C"]), _resources, min_size=1, max_size=3))
def test_e3016_finds_what_cfn_lint_finds_with_and_without_update_policies(resources):
    without, alone = _without_and_with("updatepolicy-absent", _e3016_template(resources))
    assert alone == without


def test_e3016_s_schema_is_one_the_shortcut_may_take_and_others_are_not():
    from cfn.lintpatch_updatepolicy import constrains_only

    assert constrains_only(lint._rules()["E3016"]._schema)
    then = {"properties": {"UpdatePolicy": {"type": "object"}}, "additionalProperties": True}
    assert constrains_only({"allOf": [{"if": {"required": ["Type"]}, "then": then}]})
    for other in (
        {"required": ["UpdatePolicy"]},
        {"allOf": [{"if": {}, "then": {"properties": {"Type": {"const": "x"}}}}]},
        {"allOf": [{"if": {}, "else": {"additionalProperties": False}}]},
        {"anyOf": [then]},
        {"$ref": "#/definitions/x"},
        {"minProperties": 5},
        False,
    ):
        assert not constrains_only(other), other


def _e3016(resources: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [f for f in _all_findings(_e3016_template(resources)) if f[0] == "E3016"]


def test_e3016_validates_only_resources_with_an_update_policy(plain, monkeypatch):
    """The shortcut is taken (the schema is not walked) for a resource without UpdatePolicy, not
    for one with it, and not when the rule's schema could fail such a resource."""
    rule = lint._rules()["E3016"]
    assert lintpatch.apply(["updatepolicy-absent"])
    walked: list[Any] = []  # the resources E3016 walked its schema over
    base = type(rule).__mro__[1]  # E3016's `validate` calls its `_iter_errors` through super()
    walk = base._iter_errors

    def spy(self: Any, validator: Any, instance: Any) -> Any:
        if self is rule:
            walked.append(dict(instance))
        return walk(self, validator, instance)

    monkeypatch.setattr(base, "_iter_errors", spy)
    try:
        plain_bucket = {"Bucket": {"Type": "AWS::S3::Bucket"}}
        assert _e3016(plain_bucket) == []
        assert [r.get("Type") for r in walked] == []
        with_policy = {"Bucket": {"Type": "AWS::S3::Bucket", "UpdatePolicy": {}}}
        found = _e3016(with_policy)
        assert [f[0] for f in found] == ["E3016"] and walked[0]["Type"] == "AWS::S3::Bucket"
        # A schema that requires the key: the shortcut would hide its error; it is not taken.
        walked.clear()
        monkeypatch.setattr(rule, "_schema", {"required": ["UpdatePolicy"]})
        found = _e3016(plain_bucket)
        assert [f[0] for f in found] == ["E3016", "E3016"]  # the bucket and the topic
        assert sorted(r["Type"] for r in walked) == ["AWS::S3::Bucket", "AWS::SNS::Topic"]
    finally:
        monkeypatch.undo()  # before `plain` applies the patches again


# -- sub-pseudo: Fn::Sub's pseudo parameters not validated as Refs where nothing can be found ----

_SUB_NAMES = [
    "AWS::Region",
    "AWS::AccountId",
    "AWS::Partition",
    "AWS::StackName",
    " AWS::URLSuffix ",  # spaces inside the braces
    "AWS::NoValue",
    "AWS::NotificationARNs",  # a list: an error in a string
    "Name",  # a parameter
    "Secret",  # a NoEcho parameter
    "Group",  # a resource (E1041's formats)
    "Group.GroupId",  # a GetAtt
    "Missing",
    "Mapped",  # given in the Sub's own map
    "!Literal",
]
_sub_strings = st.lists(
    st.tuples(st.sampled_from(["", "arn:", "-", ":x/"]), st.sampled_from(_SUB_NAMES)),
    min_size=1,
    max_size=4,
).map(lambda parts: "".join(f"{text}${{{name}}}" for text, name in parts))
_PLACES = [  # where a Sub is checked: a string property, a password (W1011), an AMI (W2506)
    ("Topic", "AWS::SNS::Topic", "TopicName"),
    ("Db", "AWS::RDS::DBInstance", "MasterUserPassword"),
    ("Host", "AWS::EC2::Instance", "ImageId"),
]


def _sub_template(
    value: Any, place: int, transform: bool, output: bool, clash: str | None = None
) -> str:
    """A template with `value` at one of `_PLACES` (and in an output); `clash`: a parameter
    (a list) or a resource named as a pseudo parameter, which CloudFormation refuses and
    cfn-lint reports, and whose Ref cfn-lint checks as that parameter's or resource's."""
    import json

    name, kind, prop = _PLACES[place]
    resources: dict[str, Any] = {
        "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "g"}},
        name: {"Type": kind, "Properties": {prop: value}},
    }
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {
            "Name": {"Type": "String"},
            "Secret": {"Type": "String", "NoEcho": True},
        },
        "Resources": resources,
    }
    if clash == "parameter":
        template["Parameters"]["AWS::StackName"] = {"Type": "CommaDelimitedList"}
    elif clash == "resource":
        resources["AWS::AccountId"] = {"Type": "AWS::SNS::Topic"}
    if output:
        template["Outputs"] = {"Out": {"Value": value}}
    if transform:
        template["Transform"] = "AWS::LanguageExtensions"
    return json.dumps(template)


@settings(max_examples=80, deadline=None)
@given(
    _sub_strings,
    st.sampled_from([None, {"Mapped": "m"}, {"AWS::Region": "r", "Mapped": {"Ref": "Name"}}]),
    st.integers(0, len(_PLACES) - 1),
    st.booleans(),
    st.booleans(),
    st.sampled_from([None, "parameter", "resource"]),
)
def test_fn_sub_finds_what_cfn_lint_finds_with_pseudo_parameters(
    text, mapping, place, tf, out, clash
):
    value = {"Fn::Sub": text if mapping is None else [text, mapping]}
    without, alone = _without_and_with("sub-pseudo", _sub_template(value, place, tf, out, clash))
    assert alone == without


def _ref_calls(template: str) -> int:
    """How often E1020's `Ref.ref` ran while linting `template`."""
    code = type(lint._rules()["E1020"]).ref.__code__
    calls = [0]

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is code:
            calls[0] += 1

    sys.setprofile(profile)
    try:
        _all_findings(template)
    finally:
        sys.setprofile(None)
    return calls[0]


def test_a_pseudo_parameter_in_fn_sub_is_not_validated_as_a_ref(plain):
    """With the patch, `${AWS::Region}` and its kind run no Ref check; a parameter still does;
    and a child rule of E1020 that is not the code the patch read (one that reports pseudo
    parameters, say) makes it validate them all again, with that rule's findings."""
    lint._rules()
    pseudo = _sub_template({"Fn::Sub": "arn:${AWS::Partition}:${AWS::Region}"}, 0, False, False)
    named = _sub_template({"Fn::Sub": "${AWS::Region}-${Name}"}, 0, False, False)
    counts = {"pseudo": _ref_calls(pseudo), "named": _ref_calls(named)}
    assert counts["pseudo"] >= 2 and counts["named"] >= 2  # cfn-lint's own code: each name
    assert lintpatch.apply(["sub-pseudo"])
    assert _ref_calls(pseudo) == 0
    assert 1 <= _ref_calls(named) < counts["named"]  # the parameter only

    class PseudoWatch:  # a child rule of E1020 the patch has not read; it sees every Ref
        id = "W9991"
        keywords = ["*"]
        seen: list[str] = []

        def validate(self, validator: Any, keyword: Any, instance: Any, schema: Any) -> Any:
            self.seen.append(instance)
            return iter(())

    children = lint._rules()["E1020"].child_rules
    children["W9991"] = PseudoWatch()
    try:
        assert _ref_calls(pseudo) >= 2
        assert sorted(set(PseudoWatch.seen)) == ["AWS::Partition", "AWS::Region"]
    finally:
        del children["W9991"]


def test_the_sub_shortcut_follows_a_change_of_the_ref_rule_after_its_first_use(plain, monkeypatch):
    """The verdict on E1020 is read again when what it was read from changes after a lint:
    a child rule's code, or a method overridden on the Ref rule's class. Either way the
    findings are cfn-lint's."""
    from cfnlint.jsonschema import ValidationError

    rules = lint._rules()
    assert lintpatch.apply(["sub-pseudo"])
    template = _sub_template({"Fn::Sub": "${AWS::Region}"}, 0, False, False)
    plain_findings = _all_findings(template)  # the verdict is made here
    assert "W2010" not in {f[0] for f in plain_findings}

    def added() -> list[str]:
        return [f[0] for f in _all_findings(template) if f not in plain_findings]

    def reports_pseudo(self: Any, validator: Any, keyword: Any, instance: Any, schema: Any):
        if isinstance(instance, str) and instance.startswith("AWS::"):
            yield ValidationError(f"pseudo {instance}", rule=self)

    monkeypatch.setattr(type(rules["W2010"]), "validate", reports_pseudo)
    assert added() == ["W2010"]
    monkeypatch.undo()
    assert added() == []
    strict = {"type": "string", "pattern": "^x"}
    monkeypatch.setattr(type(rules["E1020"]), "schema", lambda self, v, i: strict, raising=False)
    assert added() == ["E1019"]
    monkeypatch.undo()


def test_a_dropped_rule_set_s_patched_classes_are_freed():
    """A rule set loaded again (`--watch` after an edit of a project rule) leaves the old one's
    classes to the collector: the patches of rules hold them weakly."""
    import gc
    import weakref

    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    rule_patches = [p for p in lintpatch.patches() if isinstance(p, lintpatch.RulePatch)]
    rules = Runner(ConfigMixIn([], **lint._config_args())).rules
    assert lintpatch.apply(rules=rules)
    patched = [type(rules[p.rule_id]) for p in rule_patches]
    for cls, p in zip(patched, rule_patches, strict=True):
        assert cls in p.classes and inspect.unwrap(getattr(cls, p.attribute)) is not getattr(
            cls, p.attribute
        )
    alive = [weakref.ref(cls) for cls in patched]
    del rules, patched, cls
    gc.collect()
    assert [ref() for ref in alive] == [None] * len(alive)
