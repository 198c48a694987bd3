"""Patch of cfn-lint's regular expressions: each pattern compiled once, not looked up per call.

cfn-lint calls the `regex` module's functions with a pattern string (`re.match(pattern, s)`,
`re.search`, `re.findall`, ...; it imports `regex` as `re`) tens of thousands of times per
template: from `Template._search_deep_keys`, the `pattern` and `patternProperties` keywords,
`Fn::GetAtt` and `Fn::Sub` checks. Each call goes through `regex._main._compile`, whose cache
lookup (locale, flags as enum operations, keyword arguments) costs about a twentieth of lint CPU.

The patch gives those modules (cfn-lint's own, and the rule files cfn-lint loads from its
package) a stand-in for `regex` whose functions compile a pattern string once and call the
compiled pattern's method, as `regex`'s functions do (`regex.search(p, s)` is
`_compile(p, 0, ...).search(s, None, None, None, False, None)`, the method's defaults); given
a compiled pattern they call its method directly (`_compile` returns a compiled pattern as it
is when there are no flags). Any other call (keyword arguments, more positional arguments, a
pattern of another type) and any other name go to `regex` itself. The cache is keyed by the
pattern (a `str`; no flags) and regex's `DEFAULT_VERSION`, as regex's own cache is (less the
locale's encoding, which lint never changes). Applied only to the `regex` whose functions are
the ones we read (by digest). Upstream: compile the patterns once (`re.compile` at module
level, or a cached helper).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cfn.lintpatch import code_digest

FUNCTIONS = ("match", "fullmatch", "search", "findall", "finditer", "sub", "subn", "split")
REGEX_DIGEST = "497ab2c141cda706c3ea9d1a5e711270d552eddd27a6b2ef1d34beafbab53fec"
_MAX_PATTERNS = 8192


def regex_digest(module: Any) -> str:
    h = hashlib.sha256()
    for name in (*FUNCTIONS, "compile"):
        h.update(code_digest(getattr(module, name).__code__).encode())
    return h.hexdigest()


class CompiledOnce:
    """`regex`, with its pattern functions compiling each pattern string once."""

    def __init__(self, module: Any) -> None:
        self.__wrapped__ = module
        self.compiled: dict[tuple[Any, ...], Any] = {}
        for name in FUNCTIONS:
            setattr(self, name, self._function(name))

    def __getattr__(self, name: str) -> Any:  # everything else is regex's own
        return getattr(self.__wrapped__, name)

    def _pattern(self, pattern: str) -> Any:
        module = self.__wrapped__
        key = (pattern, module.DEFAULT_VERSION)  # flags: 0, the only ones passed on here
        found = self.compiled.get(key)
        if found is None:
            found = module.compile(pattern)
            if len(self.compiled) < _MAX_PATTERNS:
                self.compiled[key] = found
        return found

    def _function(self, name: str) -> Any:
        original = getattr(self.__wrapped__, name)
        compiled_type = self.__wrapped__.Pattern

        def call(pattern: Any, *args: Any, **kwargs: Any) -> Any:
            # match(p, s, flags=0) ... sub(p, repl, s, count=0, flags=0): only the plain forms
            plain = len(args) == (2 if name in ("sub", "subn") else 1)
            if kwargs or not plain:
                return original(pattern, *args, **kwargs)
            if type(pattern) is str:
                return getattr(self._pattern(pattern), name)(*args)
            if type(pattern) is compiled_type:  # regex's `_compile` gives it back as it is
                return getattr(pattern, name)(*args)
            return original(pattern, *args, **kwargs)

        call.__wrapped__ = original  # type: ignore[attr-defined]
        return call


class RegexPatch:
    """Gives cfn-lint's modules (and its rule files in the rule sets) `CompiledOnce`."""

    name = "regex-compiled-once"

    def __init__(self) -> None:
        self.stand_in: CompiledOnce | None = None
        # The namespaces given the stand-in: cfn-lint's modules' (they live as long as the
        # process), and those of the rule files, reached through one of their functions, weakly
        # held: a strong reference would keep a dropped rule set's modules and classes alive.
        self.covered: list[Callable[[], dict[str, Any] | None]] = []

    @property
    def installed(self) -> bool:
        return self.stand_in is not None

    def install(self) -> bool:
        import regex

        if self.stand_in is None:
            if regex_digest(regex) != REGEX_DIGEST:
                return False
            self.stand_in = CompiledOnce(regex)
        for namespace, held in _namespaces():
            if namespace.get("re") is regex:  # not given the stand-in yet
                namespace["re"] = self.stand_in
                self.covered.append(held)
        return True

    def uninstall(self) -> None:
        if self.stand_in is None:
            return
        for held in self.covered:
            namespace = held()
            if namespace is not None and namespace.get("re") is self.stand_in:
                namespace["re"] = self.stand_in.__wrapped__
        self.covered.clear()
        self.stand_in = None


def _namespaces() -> list[tuple[dict[str, Any], Callable[[], dict[str, Any] | None]]]:
    """cfn-lint's modules' namespaces: imported ones, and those of the rule files (from its
    package) of each rule set given to `lintpatch.apply`; each with how to find it again (a
    rule file's through a weak reference to one of its functions)."""
    import sys
    import weakref

    import cfnlint

    from cfn.lintpatch import _rule_sets

    package = str(Path(cfnlint.__file__).parent) + "/"
    found: list[tuple[dict[str, Any], Callable[[], dict[str, Any] | None]]] = []
    for name, m in list(sys.modules.items()):
        if name == "cfnlint" or name.startswith("cfnlint."):
            namespace = vars(m)
            found.append((namespace, lambda namespace=namespace: namespace))
    for rules in _rule_sets():
        for rule in rules.data.values():
            for member in vars(type(rule)).values():
                namespace = getattr(member, "__globals__", None)
                if namespace is not None and namespace.get("__file__", "").startswith(package):
                    function = weakref.ref(member)
                    found.append((namespace, lambda f=function: getattr(f(), "__globals__", None)))
                    break  # one function reaches the rule file's namespace
    return found


PATCHES = [RegexPatch()]
