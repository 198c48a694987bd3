"""Speed-ups of cfn-lint, applied as patches while they are not upstream; same findings.

Each patch is the change we would propose to cfn-lint. A patch replaces one function (or one
method, or the `regex` module cfn-lint's modules call) of cfn-lint, and is applied only when

- the installed cfn-lint is in the tested range (the one `setup.cfg` pins), and
- the function it replaces is exactly the one we read: the digest of its code (bytecode,
  names, constants, nested functions' code) is the one recorded in the patch's module (on
  another Python version the bytecode differs, and nothing is applied).

The patches, by module: `lintpatch_create` (validator classes reused, validator copies),
`lintpatch_context` (context, path and function filter copies; a context's module names kept per
template), `lintpatch_rules` (E1101's keyword index, `Rules.run`, `extend_validator`),
`lintpatch_regex` (patterns compiled once), `lintpatch_resolver` (a schema's ids searched once,
a resolver's caches made at first use), `lintpatch_template` (a template's keys found in one
walk, its GetAtt attributes kept), `lintpatch_filter` (the function filter's tests made once,
a schema's keywords split with a set), `lintpatch_decode` (the decoder's strings and mappings
made with less work), `lintpatch_enum` (a string looked up in a set of an enum's values),
`lintpatch_conditions` (a value with no `Fn::If`: its one scenario without a search),
`lintpatch_updatepolicy` (E3016 skips a resource without `UpdatePolicy`), `lintpatch_sub`
(E1019 does not validate `${AWS::Region}`-style pseudo parameters as Refs where that can find
nothing). Each module's
docstring says what its patches change, why the findings stay the same, and the upstream change
it stands for. "The same" holds for templates cfn-lint validates without reaching Python's
recursion limit: a template nested about a thousand levels deep (YAML aliases can do it in a few
KB; JSON's decoder stops at a few hundred) makes cfn-lint report the RecursionError under
whichever rule hits the limit, and a patch that changes the depth of the stack moves it.

Any other cfn-lint is left alone, silently: findings are then cfn-lint's as shipped. `remove()`
puts every replaced function back (the tests lint with and without the patches and compare).

This module holds what they share (the version and code checks, the list of patches, `apply`
and `remove`). `tests/test_lint_speed.py` compares findings with and without all of them over
every rendered template of every environment, rendered templates broken on purpose and the
rule tests' broken templates; `tests/test_lintpatch.py` tests each one alone.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable, Iterable
from types import CodeType
from typing import Any

TESTED = ((1, 58), (1, 59))  # cfn-lint >= 1.58, < 1.59: the pinned range


def version_ok() -> bool:
    """Whether the installed cfn-lint is in the tested range."""
    from importlib import metadata

    try:
        parts = tuple(int(p) for p in metadata.version("cfn-lint").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return False
    return TESTED[0] <= parts < TESTED[1]


def _const_bytes(value: Any) -> bytes:
    if isinstance(value, CodeType):
        return code_digest(value).encode()
    if isinstance(value, frozenset):  # its repr's order depends on string hashing
        return repr(sorted(map(_const_bytes, value))).encode()
    if isinstance(value, tuple):
        return b"(" + b",".join(map(_const_bytes, value)) + b")"
    return repr(value).encode()


def code_digest(code: CodeType) -> str:
    """A digest of what a code object does: bytecode, names and constants (nested code too)."""
    h = hashlib.sha256()
    for part in (code.co_code, repr(code.co_names).encode(), repr(code.co_varnames).encode()):
        h.update(part + b"\0")
    h.update(repr(code.co_freevars).encode() + b"\0")
    for const in code.co_consts:
        h.update(_const_bytes(const) + b"\0")
    return h.hexdigest()


def is_the_one_we_read(function: Any, digest: str) -> bool:
    """Whether `function` is a plain Python function whose code has the recorded digest."""
    code = getattr(function, "__code__", None)
    return isinstance(code, CodeType) and code_digest(code) == digest


class Patch:
    """Replaces `owner.attribute` (a function we read, by digest) with `make(original)` (None
    when the patch does not apply after all)."""

    def __init__(
        self,
        name: str,
        owner: Callable[[], Any],
        attribute: str,
        digest: str,
        make: Callable[[Any], Any],
    ) -> None:
        self.name = name
        self._owner = owner  # imports lazily: cfn-lint is loaded only when it lints
        self.attribute = attribute
        self.digest = digest
        self._make = make
        self.original: Any = None
        self.replacement: Any = None

    def owner(self) -> Any:
        return self._owner()

    @property
    def installed(self) -> bool:
        return self.original is not None

    def install(self) -> bool:
        if self.original is not None:
            return True
        owner = self.owner()
        original = owner.__dict__.get(self.attribute)
        if not is_the_one_we_read(original, self.digest):
            return False
        self.replacement = self._make(original)
        if self.replacement is None:  # the code around it is not as the patch needs it
            return False
        self.replacement.__wrapped__ = original
        setattr(owner, self.attribute, self.replacement)
        self.original = original
        return True

    def uninstall(self) -> None:
        if self.original is None:
            return
        setattr(self.owner(), self.attribute, self.original)
        self.original = self.replacement = None


class RulePatch:
    """Replaces a method of the class of one rule (by id) in each rule set given to `apply`.

    cfn-lint imports its rule files afresh for each rule set it loads, so each set has its own
    rule classes; a patch of a rule covers every rule set it has been given (weakly held)."""

    def __init__(
        self, name: str, rule_id: str, attribute: str, digest: str, make: Callable[[Any], Any]
    ) -> None:
        self.name = name
        self.rule_id = rule_id
        self.attribute = attribute
        self.digest = digest
        self._make = make
        self.installed = False
        # class -> its own function, both weakly held: the function's module refers to the class,
        # so a strong reference here would keep a dropped rule set's classes alive for ever (the
        # replacement set on the class keeps the function while the class lives).
        self.classes: weakref.WeakKeyDictionary[type, Any] = weakref.WeakKeyDictionary()

    def install(self) -> bool:
        self.installed = True
        return all([self.cover(rules) for rules in _rule_sets()])

    def cover(self, rules: Any) -> bool:
        """Patch the class of this rule in `rules`; False when it is not the code we read."""
        rule = getattr(rules, "data", {}).get(self.rule_id)
        cls = type(rule)
        if not self.installed or rule is None or cls in self.classes:
            return True
        original = cls.__dict__.get(self.attribute)
        if not is_the_one_we_read(original, self.digest):
            return False
        replacement = self._make(original)
        if replacement is None:  # the code around it is not as the patch needs it
            return False
        replacement.__wrapped__ = original
        setattr(cls, self.attribute, replacement)
        self.classes[cls] = weakref.ref(original)
        return True

    def uninstall(self) -> None:
        for cls, function in list(self.classes.items()):
            original = function()
            if original is not None:
                setattr(cls, self.attribute, original)
        self.classes.clear()
        self.installed = False


_RULE_SETS: list[weakref.ref[Any]] = []


def _rule_sets() -> list[Any]:
    alive = [r() for r in _RULE_SETS]
    _RULE_SETS[:] = [weakref.ref(r) for r in alive if r is not None]
    return [r for r in alive if r is not None]


def patches() -> list[Any]:
    """Every patch, in the order they are applied (removed in the reverse order)."""
    from cfn import (
        lintpatch_conditions,
        lintpatch_context,
        lintpatch_create,
        lintpatch_decode,
        lintpatch_enum,
        lintpatch_filter,
        lintpatch_regex,
        lintpatch_resolver,
        lintpatch_rules,
        lintpatch_sub,
        lintpatch_template,
        lintpatch_updatepolicy,
    )

    return [
        *lintpatch_create.PATCHES,
        *lintpatch_context.PATCHES,
        *lintpatch_rules.PATCHES,
        *lintpatch_regex.PATCHES,
        *lintpatch_resolver.PATCHES,
        *lintpatch_template.PATCHES,
        *lintpatch_filter.PATCHES,
        *lintpatch_decode.PATCHES,
        *lintpatch_enum.PATCHES,
        *lintpatch_conditions.PATCHES,
        *lintpatch_updatepolicy.PATCHES,
        *lintpatch_sub.PATCHES,
    ]


_PATCHES: list[Any] = []


def apply(names: Iterable[str] | None = None, rules: Any = None) -> bool:
    """Apply the patches (all, or those named); True when every one asked for is in place.

    `rules` is a rule set cfn-lint loaded (`Runner.rules`): the patches of rules cover it from
    now on (and each rule set given before, while it lives)."""
    if not version_ok():
        return False
    if rules is not None and all(r is not rules for r in _rule_sets()):
        _RULE_SETS.append(weakref.ref(rules))
    try:
        available = _PATCHES or patches()
    except ImportError:
        return False
    _PATCHES[:] = available
    wanted = set(names) if names is not None else {p.name for p in available}
    return all([p.install() for p in available if p.name in wanted]) and bool(wanted)


def applied() -> set[str]:
    """The names of the patches in place."""
    return {p.name for p in _PATCHES if p.installed}


def remove() -> None:
    """Put cfn-lint's own functions back (for the tests that compare with and without)."""
    for p in reversed(_PATCHES):
        p.uninstall()
