"""Patch of cfn-lint's function filter (`cfnlint.jsonschema._filter.FunctionFilter.filter`): the
same steps, with two tests made once instead of again.

`FunctionFilter.filter` runs before every schema a validator applies (thousands of times per
template). cfn-lint 1.58's code, at each call,
- asks whether the schema has a `cfnContext` keyword through `any()` over a one-item list (a
  generator made and run for one `in` test), and
- asks the validator whether the instance is a string twice (once for dynamic references, once
  for a pseudo-parameter written as a plain string), through `Validator.is_type` and the type
  checker; the second question is reached with the same instance and validator.
The replacement makes the `in` test directly and asks once; a validator's `is_type` answers from
the instance's Python type and the validator's type checker alone (no state changes), so the
answer is the one the second question would get. Everything else is cfn-lint's code, in its
order (upstream: the same change).

`FunctionFilter._filter_schemas` (patch `filter-schemas`) splits each schema a value with
functions is validated with into the keywords that count properties or items and the rest, and
adds the `cfnLint` keyword with the value's path. cfn-lint 1.58's code looks each schema key
up in the filter's list of fourteen keyword names, calls `ensure_list` twice and runs `all()`
over a generator. The replacement looks keys up in a set of the same names while the filter's
list holds exactly cfn-lint's default names (compared at each call; a schema's keys are strings,
for which a list and a set find the same), builds the `cfnLint` list as `ensure_list` does (a
new list, of the items of a list or tuple, or of the one value) and tests the three keywords
with `not in` in `all()`'s order; the rest is cfn-lint's code, in its order (upstream: the same
change, with the names a frozenset).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from cfn.lintpatch import Patch, is_the_one_we_read

FILTER_DIGEST = "b9467ad5f84621cb9dc22c9408101f78e1a0e23240a1f26b93b27bf633037969"
FILTER_SCHEMAS_DIGEST = "06e6eb6f8b32cd2e1da8905b3167a5b6d83d58f5035e73628e762e25486f6664"
ENSURE_LIST_DIGEST = "6022a692b2e14273094f16fb459d3b86700a25e8f7d888ef7f8ba7fcc49b56cd"


def _filter(original: Callable[..., Any]) -> Callable[..., Any]:
    """`FunctionFilter.filter`: the (instance, schema, validator) triples to validate."""
    from cfnlint.jsonschema import _filter as module

    functions, pseudo_parameters = module.FUNCTIONS, module.PSEUDOPARAMS
    dynamic_reference, dynamic_reference_spaces = module.REGEX_DYN_REF, module.REGEX_DYN_REF_SPACES
    to_py = module.ToPy

    def filter(self: Any, validator: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if "cfnContext" in schema:  # singular: processed first
            yield instance, schema, validator
            return

        is_string = validator.is_type(instance, "string")
        if is_string and self.validate_dynamic_references:
            if dynamic_reference.findall(instance):
                # in a function, dynamic references cannot be validated the same way
                if not any(
                    p in set(functions) - set(["Fn::If"]) for p in validator.context.path.path
                ):
                    yield (instance, {"dynamicReference": schema}, validator)
                    return
                return
            elif dynamic_reference_spaces.search(instance):
                yield (instance, {"dynamicReferenceSpaces": schema}, validator)
                return

        # a pseudo-parameter used as a raw string (without Ref)
        if is_string and instance in pseudo_parameters and "Ref" not in validator.context.path.path:
            yield (instance, {"rawPseudoParameter": schema}, validator)
            return

        # no functions: no Ref AWS::NoValue nor If conditions to worry about
        if not validator.context.functions:
            yield instance, schema, validator
            return

        standard_schema, group_schema = self._filter_schemas(schema, validator)

        if group_schema:
            for scenario_instance, scenario in validator.context.conditions.evolve_from_instance(
                instance, context=validator.context
            ):
                if scenario_instance is None:
                    continue
                scenario_validator = validator.evolve(
                    context=validator.context.evolve(conditions=scenario)
                )
                yield (scenario_instance, group_schema, scenario_validator)

        if validator.is_type(instance, "object") and len(instance) == 1:
            for k, _v in instance.items():
                if k in validator.context.functions:
                    yield (instance, {to_py(k).py: standard_schema}, validator)
                    return

        yield (instance, standard_schema, validator)

    return filter


def _filter_schemas(original: Callable[..., Any]) -> Callable[..., Any] | None:
    """`FunctionFilter._filter_schemas`: (the schema's other keywords, with `cfnLint`; its
    keywords that count properties or items)."""
    import dataclasses

    from cfnlint import helpers
    from cfnlint.jsonschema import _filter as module

    if not (
        module.ensure_list is helpers.ensure_list
        and is_the_one_we_read(helpers.ensure_list, ENSURE_LIST_DIGEST)
    ):
        return None
    field = next(
        f for f in dataclasses.fields(module.FunctionFilter) if f.name == "group_functions"
    )
    default_names = field.default_factory()  # cfn-lint's list, as each filter gets it
    group_names = frozenset(default_names)
    space = module.__dict__  # `_all_types` read as cfn-lint's code reads it, at each use

    def filter_schemas(self: Any, schema: Any, validator: Any) -> tuple[Any, Any]:
        path = validator.context.path
        if path.path and path.path[-1] in ["Fn::If"]:
            return schema, None

        names = self.group_functions
        if type(names) is list and names == default_names:
            names = group_names  # the same names: the same answer for a string key
        standard_schema = {}
        group_schema = {}
        for key, value in schema.items():
            if key in names:
                group_schema[key] = value
            else:
                standard_schema[key] = value
        if self.add_cfn_lint_keyword and "$ref" not in standard_schema:
            keywords = standard_schema.get("cfnLint", [])  # ensure_list's new list:
            keywords = list(keywords) if isinstance(keywords, (list, tuple)) else [keywords]
            standard_schema["cfnLint"] = keywords
            keywords.append("/".join(path.cfn_path))

        types = standard_schema.get("type", [])
        types = list(types) if isinstance(types, (list, tuple)) else [types]
        if (
            "object" in types
            and "properties" not in standard_schema
            and "additionalProperties" not in standard_schema
            and "patternProperties" not in standard_schema
        ):
            standard_schema["patternProperties"] = {
                ".*": {"type": space["_all_types"]},
            }
        if "array" in standard_schema.get("type", []) and "items" not in standard_schema:
            standard_schema["items"] = {"type": space["_all_types"]}

        return standard_schema, group_schema

    return filter_schemas


def _filter_class() -> Any:
    from cfnlint.jsonschema._filter import FunctionFilter

    return FunctionFilter


PATCHES = [
    Patch("filter-once", _filter_class, "filter", FILTER_DIGEST, _filter),
    Patch(
        "filter-schemas",
        _filter_class,
        "_filter_schemas",
        FILTER_SCHEMAS_DIGEST,
        _filter_schemas,
    ),
]
