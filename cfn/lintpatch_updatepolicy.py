"""Patch of cfn-lint's E3016 (`Configuration.validate`, in the rule file
`resources/updatepolicy/Configuration.py`): a resource without an `UpdatePolicy` key gets no
E3016 error without validating it against the rule's schema.

E3016 checks every resource's `UpdatePolicy` by validating the whole resource against
`update_policy.json`: six `if`s on the resource's `Type`, whose `then`s (and the last `else`)
name only `UpdatePolicy` under `properties`, with `additionalProperties: true`. For a resource
without that key, cfn-lint 1.58 still evaluates the six `if`s, each with its validator copies,
condition scenarios and errors made and dropped: about a tenth of a service template's lint
(instructions counted with cachegrind over five service templates: -9 %), for nothing, since
- `properties` descends only into the properties the instance has;
- `additionalProperties: true` yields nothing;
- an `if` only chooses between `then` and `else`; what it finds is not reported (an "unknown"
  error it may yield when it cannot decide is dropped by `CfnLintJsonSchema._iter_errors`);
- the `Fn::Select` test at the start of the method reads `UpdatePolicy`, absent here.

The findings are the same for every template cfn-lint validates without reaching Python's
recursion limit (its scenario search recurses once per nesting level of a value: only YAML
aliases reach the limit, JSON's decoder stops far below it; cfn-lint then reports the exception,
in which rule depends on where the limit is hit, which any patch can move). The replacement
takes that shortcut only when all of these hold, and otherwise runs cfn-lint's code:
- the resource is an object with a string `Type` and no `UpdatePolicy` key. Its keys cannot
  change in a condition scenario: scenarios resolve values, and `Ref: AWS::NoValue` only drops
  keys;
- the function filter does not add the `cfnLint` keyword, which would run other rules;
- the rule's schema, read at the call, is made only of the keywords above: `allOf`, `if`,
  `then`, `else`, `properties` naming nothing but `UpdatePolicy`, `additionalProperties: true`,
  and `definitions`, which is never applied by itself. The verdict is kept per schema object.

Applied only when E3016's `validate` is the code we read. The upstream change is the same
early return in the rule, or an `if` on `required: ["UpdatePolicy"]` around the schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from cfn.lintpatch import RulePatch

VALIDATE_DIGEST = "7b0979f527881bcbe2f7e32032e33a2fa70144d7142f7e33a41f2884f11ece6d"
KEY = "UpdatePolicy"
_INERT = frozenset({"definitions", "description", "$schema", "$id", "if"})


def constrains_only(schema: Any, key: str = KEY) -> bool:
    """Whether validating an object without `key` against `schema` can yield no error, by the
    schema's form alone (the keywords listed in the module's docstring; anything else: False)."""
    if schema is True or schema == {}:
        return True
    if not isinstance(schema, dict):
        return False
    for keyword, value in schema.items():
        if keyword in _INERT:
            continue
        if keyword == "allOf":
            if not (isinstance(value, list) and all(constrains_only(s, key) for s in value)):
                return False
        elif keyword in ("then", "else"):
            if not constrains_only(value, key):
                return False
        elif keyword == "properties":
            if not (isinstance(value, dict) and set(value) <= {key}):
                return False
        elif keyword == "additionalProperties":
            if value is not True:
                return False
        else:
            return False
    return True


def _validate(original: Callable[..., Any]) -> Callable[..., Any]:
    verdicts: dict[int, tuple[Any, bool]] = {}  # id(schema) -> (schema, verdict): kept alive

    def inert(schema: Any) -> bool:
        known = verdicts.get(id(schema))
        if known is None or known[0] is not schema:
            known = verdicts[id(schema)] = (schema, constrains_only(schema))
        return known[1]

    def validate(
        self: Any, validator: Any, keywords: Any, instance: Any, schema: Any
    ) -> Iterator[Any]:
        if (
            isinstance(instance, dict)
            and KEY not in instance
            and isinstance(instance.get("Type"), str)
            and not validator.function_filter.add_cfn_lint_keyword
            and inert(self._schema)
        ):
            return
        yield from original(self, validator, keywords, instance, schema)

    return validate


PATCHES = [RulePatch("updatepolicy-absent", "E3016", "validate", VALIDATE_DIGEST, _validate)]
