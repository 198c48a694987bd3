"""Reuse cfn-lint's validator classes between calls instead of re-creating them on every call.

cfn-lint 1.58 builds a new `@dataclass` class in `cfnlint.jsonschema.validators.create` each
time a rule extends a validator (`Validator.extend`, called by `BaseJsonSchema.extend_validator`
for almost every resource property it checks): about a tenth of lint CPU goes into
`dataclasses._process_class`. The class only closes over the three arguments of `create`, so two
calls with equal arguments make classes that behave the same; this module memoises `create` on
them. It is the change we would propose upstream (an `lru_cache` on `create`), applied here as a
patch while it is not there:

- keyed by everything the class closes over: each validator callable (compared as Python
  compares them: a bound method by its object's identity and its function), the function
  filter's field values, each function resolver; arguments that cannot be keyed (unhashable
  callables) are passed to the original `create` untouched;
- the cache holds its keys' objects alive, so an identity in a key is never reused by another
  object;
- the function filter a cached class carries is equal field by field to the one asked for, and
  cfn-lint never mutates a filter (it `evolve`s new ones);
- applied only to a cfn-lint in the tested range whose `create` is the function we read; any
  other version is left alone, silently (findings are then cfn-lint's as shipped).

`tests/test_lint_speed.py` compares findings with and without it over every rendered template of
every environment and the rule tests' broken templates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

TESTED = ((1, 58), (1, 59))  # cfn-lint >= 1.58, < 1.59: the pinned range
_MAX_CLASSES = 4096  # far above the distinct keys one rule set makes (about a hundred)
_original: Callable[..., Any] | None = None


def _version_ok() -> bool:
    from importlib import metadata

    try:
        parts = tuple(int(p) for p in metadata.version("cfn-lint").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    return TESTED[0] <= parts < TESTED[1]


def _filter_key(function_filter: Any) -> tuple[Any, ...] | None:
    if function_filter is None:
        return None
    if not dataclasses.is_dataclass(function_filter):
        raise TypeError("not a dataclass")
    values = []
    for f in dataclasses.fields(function_filter):
        value = getattr(function_filter, f.name)
        values.append((f.name, tuple(value) if isinstance(value, list) else value))
    key = (type(function_filter), tuple(values))
    hash(key)  # raises TypeError for a field we cannot key
    return key


def _key(validators: Any, function_filter: Any, fn_resolvers: Any) -> tuple[Any, ...]:
    key = (
        tuple(validators.items()) if validators else None,
        _filter_key(function_filter),
        tuple(fn_resolvers.items()) if fn_resolvers else None,
    )
    hash(key)
    return key


def _memoised_create(original: Callable[..., Any]) -> Callable[..., Any]:
    classes: dict[tuple[Any, ...], Any] = {}

    def create(
        validators: Any = None, function_filter: Any = None, fn_resolvers: Any = None
    ) -> Any:
        try:
            key = _key(validators, function_filter, fn_resolvers)
            cls = classes.get(key)
        except TypeError:  # something unhashable: do what cfn-lint does
            return original(validators, function_filter, fn_resolvers)
        if cls is None:
            cls = original(validators, function_filter, fn_resolvers)
            if len(classes) < _MAX_CLASSES:
                # The key keeps its callables (and their objects) alive: no identity is reused.
                classes[key] = cls
        return cls

    create.__wrapped__ = original  # type: ignore[attr-defined]
    create.cache = classes  # type: ignore[attr-defined]
    return create


def apply() -> bool:
    """Memoise cfn-lint's `create`; True when the patch is in place (now or already)."""
    global _original
    if _original is not None:
        return True
    if not _version_ok():
        return False
    try:
        from cfnlint.jsonschema import validators as module
    except ImportError:
        return False
    original = getattr(module, "create", None)
    if not callable(original) or getattr(original, "__module__", "") != module.__name__:
        return False
    _original = original
    module.create = _memoised_create(original)
    return True


def remove() -> None:
    """Put cfn-lint's own `create` back (for the tests that compare with and without)."""
    global _original
    if _original is None:
        return
    from cfnlint.jsonschema import validators as module

    module.create = _original
    _original = None
