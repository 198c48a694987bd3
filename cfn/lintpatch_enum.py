"""Patch of cfn-lint's `enum` keyword (`cfnlint.jsonschema._keywords.enum`): a string is looked up
in a set made once per enum list, instead of compared with each value through `_utils.equal`.

`enum` runs for every value a schema restricts to a list (resource types in `if` schemas,
regions, instance types, ...): in the root template of a 100-service platform it makes about
57,000 calls to `equal`. For a string instance whose `lower()` is neither "true" nor "false",
`equal(instance, value)` is, by its code (and `helpers.bool_compare`'s):
- `value` a bool: `False is value` (the string counts as false), so True for `False` alone;
- `value` a string whose `lower()` is "true" or "false": the same, so True when it is "false";
- any other `value` of a JSON type (string, int, float, None): `str(instance) == str(value)`
  (`str` of a JSON number cannot raise the `ValueError` it guards against: no int of over
  4300 digits is in a schema, and one that is makes the list unsafe, below).
So the string is in the enum exactly when the list holds `False` or a "false" string, or when
`str(instance)` is in the set of `str(value)` of the other values. The replacement answers that
from the set; when the string is not in it (an error follows), or for any other instance (a
number, a bool, a function, "true"/"false" strings, a `str` subclass other than cfn-lint's
`str_node`, which changes nothing of `str`'s), or a list holding anything else (a list, a
dict, a subclass), it runs cfn-lint's own code, so every error is cfn-lint's own.

The sets are kept per list object (cfn-lint's schemas are loaded once and never changed; a
list is used again only while it holds the very values it held: checked at each call,
element by element by identity), bounded in number (the case-insensitive keyword makes a new
list at each call).

`enum` is referenced by value from many places (the keyword dictionaries of every validator
class, the enum rules' modules), so the patch replaces the code of cfn-lint's function object
(its `__code__`, with the lookup as a keyword-only default) rather than a module attribute, and
puts the code back on removal. Upstream: the same lookup in `enum` (or `equal` made cheaper for
strings), with the set cached per schema list.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

from cfn.lintpatch import is_the_one_we_read

ENUM_DIGEST = "d829cf0349b497a5fb4bf795ba44e3937047ae695c70352250864915dde061d2"
EQUAL_DIGEST = "2166b1287fca4a078472e45a5df6d9a9d8b969ba8476b94a68e9dd4e919f01f5"
BOOL_COMPARE_DIGEST = "5753fc0ec7f17c174c271af52f48e6f80529e7d18138982dfc50fd4dd7cdc40f"
_MAX_LISTS = 4096
_PLAIN_VALUES = (str, int, bool, type(None))  # not float: 0.0 == -0.0, their str differ
_BOOLEAN_WORDS = ("true", "false")


class EnumSets:
    """For each enum list seen (by its values and their types): what a string matches in it."""

    def __init__(self, string_types: tuple[type, ...]) -> None:
        self.string_types = string_types
        self.values = frozenset((*_PLAIN_VALUES, *string_types))
        # (values, their types) -> (matches any plain string, {str(value)}), or None when the
        # list holds a value left to cfn-lint's comparison
        self.kept: dict[tuple[Any, ...], tuple[bool, frozenset[str]] | None] = {}

    def _made(self, values: tuple[Any, ...]) -> tuple[bool, frozenset[str]] | None:
        matches_all = False
        strings = set()
        for value in values:
            kind = type(value)
            if kind not in self.values or (kind is int and abs(value) > 10**100):
                return None
            if kind is bool:
                matches_all = matches_all or value is False
            elif kind in self.string_types and value.lower() in _BOOLEAN_WORDS:
                matches_all = matches_all or value.lower() == "false"
            else:
                strings.add(str(value))
        return (matches_all, frozenset(strings))

    def matches(self, enums: Any, instance: Any) -> bool | None:
        """Whether `instance` equals a value of `enums` (as `equal` compares); None when this
        cannot tell (cfn-lint's code decides then)."""
        if type(instance) not in self.string_types or type(enums) is not list:
            return None
        values = tuple(enums)
        # Equal keys hold values equal by `==` and of the same types: (for these types) the
        # same strings.
        key = (values, tuple(map(type, values)))
        try:
            entry = self.kept.get(key, False)
        except TypeError:  # a value that cannot be hashed (a list): cfn-lint's comparison
            return None
        if entry is False:
            if len(self.kept) >= _MAX_LISTS:
                self.kept.clear()
            entry = self.kept[key] = self._made(values)
        if entry is None or instance.lower() in _BOOLEAN_WORDS:
            return None
        return entry[0] or str(instance) in entry[1]


def _replacement_code() -> types.CodeType:
    def enum(
        validator: Any, enums: Any, instance: Any, schema: dict[str, Any], *, _lintpatch: Any
    ) -> Iterator[Any]:
        found = _lintpatch.sets.matches(enums, instance)
        if found is None:
            yield from _lintpatch.original(validator, enums, instance, schema)
        elif not found:  # cfn-lint's error, as its code makes it
            yield _lintpatch.error(f"{instance!r} is not one of {enums!r}")

    return enum.__code__


class EnumPatch:
    """Replaces the code of cfn-lint's `enum` function (see the module's docstring)."""

    name = "enum-set"

    def __init__(self) -> None:
        self.function: Any = None
        self.original: Any = None  # a function object running cfn-lint's own code
        self.sets: EnumSets | None = None
        self.error: Any = None

    @property
    def installed(self) -> bool:
        return self.function is not None

    def install(self) -> bool:
        if self.function is not None:
            return True
        from cfnlint import helpers
        from cfnlint.decode.node import str_node
        from cfnlint.jsonschema import _keywords, _utils, exceptions

        function = _keywords.__dict__.get("enum")
        if not (
            is_the_one_we_read(function, ENUM_DIGEST)
            and is_the_one_we_read(_keywords.__dict__.get("equal"), EQUAL_DIGEST)
            and _keywords.equal is _utils.equal
            and _utils.bool_compare is helpers.bool_compare
            and is_the_one_we_read(helpers.bool_compare, BOOL_COMPARE_DIGEST)
            and function.__kwdefaults__ is None
            and function.__globals__.get("ValidationError") is exceptions.ValidationError
        ):
            return False
        self.original = types.FunctionType(
            function.__code__,
            function.__globals__,
            function.__name__,
            function.__defaults__,
            function.__closure__,
        )
        self.error = function.__globals__["ValidationError"]
        self.sets = EnumSets((str, str_node))
        function.__code__ = _replacement_code()
        function.__kwdefaults__ = {"_lintpatch": self}
        self.function = function
        return True

    def uninstall(self) -> None:
        if self.function is None:
            return
        self.function.__code__ = self.original.__code__
        self.function.__kwdefaults__ = None
        self.function = self.original = self.sets = self.error = None


PATCHES = [EnumPatch()]
