"""Patches of how cfn-lint dispatches to its rules (`cfnlint.rules`).

1. `CfnLint.cfnLint` (rule E1101) runs for every `cfnLint` keyword of the schemas, that is for
   almost every resource property; for each keyword it walks all of its child rules (about two
   hundred) and each one's keywords (about three hundred), to find the few rules that validate
   that keyword. The replacement looks them up in an index keyword -> rules, built from the
   child rules in their order, with the same rules skipped (none, no id) and a rule listed as
   often as it lists the keyword. `Rules.run` re-assigns the child rules on every template, so
   the index is kept with the child rules it was built from and rebuilt whenever one of them
   is not the same object: checked on every call, or, under the patched `Rules.run` (2.), once
   per template after it has wired them (cfn-lint's rules change child rules only when they
   are made). Upstream: build the index when the child rules are wired.
2. `Rules.run` wires child rules with `any(key == r for r in self.data.keys())` for every child
   key of every rule (quadratic in the number of rules); for the string keys rules have that
   is `key in self.data`. The replacement is cfn-lint's `run` with that one test changed (and
   the original test kept for a key that is not a string), the configuration's settings it
   reads for each rule (which rules are included, ignored, mandatory, experimental, configured)
   read once per template instead of once per rule, and one call left out: for each
   resource it runs every rule's `matchall_resource_properties` through `run_check`, and for
   almost every rule that is cfn-lint's base method, which returns at once when the resource
   type is not in the rule's `resource_property_types`; the replacement makes that test
   itself (on the same list, as the method would) and skips the call, which would yield
   nothing and record nothing new.
3. `BaseJsonSchema.extend_validator` (once per property a schema rule checks) makes the
   extended validator with the schema alone, which builds a throwaway empty `Template` (its
   graph, conditions and context), a context from it and a resolver, and then `evolve`s it with
   the template, context and a resolver of its own. The replacement makes the extended
   validator once with them: the same class, the same field values (the function filter is the
   class's default either way; a context of None is filled in from the template as before).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from typing import Any

from cfn.lintpatch import Patch, RulePatch, is_the_one_we_read

CFNLINT_DIGEST = "82ffce9b7d9abbcbc3e711da37ee7d1161b5dc255457681c264b2b033edd3630"
RUN_DIGEST = "a7d07cb8f0f12bb1333e2703bf74f68958475a79d0a214e70fe2fbf616416dd0"
MATCHING_DIGEST = "8a9d740b1726e19b97021fc1729d3a03a6a857e8926052b92cc62bce782749e8"
EXTEND_DIGEST = "401aa1c6fe4765f4f309a21cd589c7b5389181bf7d1ee79d8244831e3ab9bb70"


# -- 1. CfnLint.cfnLint through a keyword index ------------------------------------------------


def keyword_index(child_rules: tuple[Any, ...]) -> dict[str, list[Any]] | None:
    """keyword -> the rules that validate it, in child rule order, each as often as it lists
    the keyword; None when a keyword is not a string (compared by `==` only)."""
    index: dict[str, list[Any]] = {}
    for rule in child_rules:
        if rule is None or not rule.id:
            continue
        for keyword in rule.keywords:
            if type(keyword) is not str:
                return None
            index.setdefault(keyword, []).append(rule)
    return index


# Set by the patched `Rules.run` once it has wired the child rules, until it ends: while it is
# under way, the child rules stay as wired (cfn-lint's rules change them only when made).
_WIRED: list[object | None] = [None]


# Where a CfnLint rule keeps its index (so that it goes with the rule, when rules are reloaded).
INDEX_ATTRIBUTE = "_cfn_keyword_index"


def index_of(rule: Any) -> dict[str, list[Any]] | None:
    """The rule's index, with the child rules (the same objects) it was built from; checked
    against the child rules once per run of the patched `Rules.run` (on every call without
    it)."""
    entry = rule.__dict__.get(INDEX_ATTRIBUTE)
    wired = _WIRED[0]
    if entry is not None and wired is not None and entry[2] is wired:
        return entry[1]
    children = tuple(rule.child_rules.values())
    # The entry holds the children alive: no identity here is reused while it is kept.
    same = entry is not None and len(entry[0]) == len(children)
    if same and all(map(operator.is_, entry[0], children)):
        index = entry[1]
    else:
        index = keyword_index(children)
    rule.__dict__[INDEX_ATTRIBUTE] = (children, index, wired)
    return index


def _cfn_lint(original: Callable[..., Any]) -> Callable[..., Any]:
    """`CfnLint.cfnLint`: the errors of the child rules that validate each keyword."""
    from cfnlint.jsonschema._utils import Unset

    def cfnLint(self: Any, validator: Any, keywords: Any, instance: Any, schema: Any) -> Any:
        index = index_of(self)
        if index is None or not all(type(k) is str for k in keywords):
            # What we cannot look up by hash (compared by `==` only): cfn-lint's own loop.
            yield from original(self, validator, keywords, instance, schema)
            return
        validator = validator.evolve(
            function_filter=validator.function_filter.evolve(add_cfn_lint_keyword=False)
        )
        for keyword in keywords:
            for rule in index.get(keyword, ()):
                for err in rule.validate(validator, keyword, instance, schema):
                    if err.rule is None and isinstance(err.validator, Unset):
                        err.rule = rule
                    yield err

    return cfnLint


# -- 2. Rules.run with child rules wired in linear time -----------------------------------------


def _wire(rules: Any) -> None:
    """Give each rule its child rules (those in the set) and each parent rule its children."""
    data = rules.data
    for rule_id, rule in data.items():
        for key in rule.child_rules:  # (cfn-lint's `.keys()`)
            known = key in data if type(key) is str else any(key == r for r in data)
            if not known:
                continue
            rule.child_rules[key] = data.get(key)
        for parent_rule in rule.parent_rules:
            if parent_rule in data:
                data[parent_rule].child_rules[rule_id] = rule


class Settings:
    """The settings of cfn-lint's configuration `Rules.run` reads for each rule, each read once
    per run: each is a property of the configuration that merges its sources (arguments, the
    template's, a file's) again on every read, the same way with the same sources."""

    def __init__(self, config: Any) -> None:
        self._config = config

    def __getattr__(self, name: str) -> Any:  # a setting not read yet in this run
        value = getattr(self._config, name)
        setattr(self, name, value)
        return value


def _run(original: Callable[..., Any]) -> Callable[..., Any]:
    """`Rules.run`: every enabled rule's matches on one template."""

    def run(self: Any, filename: str | None, cfn: Any, config: Any) -> Iterator[Any]:
        enabled_rule_ids = set()
        settings = Settings(config)
        for rule_id, rule in self.data.items():
            rule.configure(
                settings.configure_rules.get(rule_id, None), settings.include_experimental
            )
            rule.initialize(cfn)
            if self.is_rule_enabled(rule_id, settings):
                enabled_rule_ids.add(rule_id)
        _wire(self)
        _WIRED[0] = wired = object()
        try:
            yield from _matches(self, filename, cfn, config, enabled_rule_ids)
        finally:
            if _WIRED[0] is wired:
                _WIRED[0] = None

    return run


def _matches(
    self: Any, filename: str | None, cfn: Any, config: Any, enabled_rule_ids: set[str]
) -> Iterator[Any]:
    """What `Rules.run` yields once the rules are wired: each enabled rule's matches."""
    skippable = _base_resource_properties(self)
    for rule_id, rule in self.data.items():
        yield from self._filter_matches(
            enabled_rule_ids,
            self.run_check(
                rule.matchall, filename, rule_id, config, enabled_rule_ids, filename, cfn
            ),
        )
    for name, attributes in cfn.get_resources().items():
        resource_type = attributes.get("Type")
        properties = attributes.get("Properties")
        if isinstance(resource_type, str) and isinstance(properties, dict):
            path = ["Resources", name, "Properties"]
            for rule_id, rule in self.data.items():
                if rule_id in skippable:
                    types = rule.resource_property_types
                    if type(types) is list and resource_type not in types:
                        continue  # the base method's first test: it yields nothing
                yield from self._filter_matches(
                    enabled_rule_ids,
                    self.run_check(
                        rule.matchall_resource_properties,
                        *(filename, rule_id, config, enabled_rule_ids, filename, cfn),
                        *(properties, resource_type, path),
                    ),
                )


def _base_resource_properties(rules: Any) -> frozenset[str]:
    """The ids of the rules whose `matchall_resource_properties` is cfn-lint's base one (the
    `matching` wrapper we read): for a resource type not in the rule's
    `resource_property_types` it returns before doing anything, and the rule's `run_check`
    has already recorded the rule as used (in the first loop)."""
    from cfnlint.rules._rule import CloudFormationLintRule

    base = CloudFormationLintRule.__dict__.get("matchall_resource_properties")
    if not is_the_one_we_read(base, MATCHING_DIGEST):
        return frozenset()
    cells = dict(zip(base.__code__.co_freevars, base.__closure__ or (), strict=False))
    if cells["match_type"].cell_contents != "match_resource_properties":
        return frozenset()
    return frozenset(
        rule_id
        for rule_id, rule in rules.data.items()
        if getattr(type(rule), "matchall_resource_properties", None) is base
        and "matchall_resource_properties" not in vars(rule)
    )


# -- 3. BaseJsonSchema.extend_validator without a throwaway validator -------------------------


def _extend_validator(original: Callable[..., Any]) -> Callable[..., Any]:
    """`BaseJsonSchema.extend_validator`: `validator` with this rule's keyword validators (and
    `validators`), for `schema`, in `context`."""
    from cfnlint.schema.resolver import RefResolver

    def extend_validator(
        self: Any, validator: Any, schema: Any, context: Any, validators: Any = None
    ) -> Any:
        all_validators = self._get_validators()
        if validators:
            all_validators.update(validators)
        cls = validator.extend(validators=all_validators)
        return cls(
            schema=schema,
            cfn=validator.cfn,
            context=context,
            resolver=RefResolver.from_schema(schema),
        )

    return extend_validator


def _base_json_schema() -> Any:
    from cfnlint.rules.jsonschema.Base import BaseJsonSchema

    return BaseJsonSchema


def _rules_module() -> Any:
    from cfnlint.rules import _rules

    return _rules


PATCHES = [
    RulePatch("cfnlint-index", "E1101", "cfnLint", CFNLINT_DIGEST, _cfn_lint),
    Patch("rules-run", lambda: _rules_module().Rules, "run", RUN_DIGEST, _run),
    Patch(
        "extend-validator",
        _base_json_schema,
        "extend_validator",
        EXTEND_DIGEST,
        _extend_validator,
    ),
]
