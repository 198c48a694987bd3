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
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from cfn.lintpatch import Patch

FILTER_DIGEST = "b9467ad5f84621cb9dc22c9408101f78e1a0e23240a1f26b93b27bf633037969"


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


def _filter_class() -> Any:
    from cfnlint.jsonschema._filter import FunctionFilter

    return FunctionFilter


PATCHES = [Patch("filter-once", _filter_class, "filter", FILTER_DIGEST, _filter)]
