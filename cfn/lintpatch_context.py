"""Patches of cfn-lint's evaluation context (`cfnlint.context.context`): field names once.

`Context.evolve`, `Path.descend` and `Path.evolve` run for every schema keyword a validator
descends into, and each walks `dataclasses.fields(...)` of its class on every call (about an
eighth of lint CPU between them). A dataclass's fields never change once it is made, so the
replacements read the names once, when the patch is applied (upstream: a module-level tuple of
field names). Everything else is the same code: the same checks, the same attributes copied in
the same way, the same constructor called.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable
from typing import Any

from cfn.lintpatch import Patch

CONTEXT_EVOLVE_DIGEST = "978b28a1f740959d0efab926108e3f534622aeb229fe41b59c1cb8af30494b33"
PATH_DESCEND_DIGEST = "92949c93239f429f45eb02754fe333a29052ee82e645613f74629ea346eae285"
PATH_EVOLVE_DIGEST = "6dbd76b724efddaca6074479e91e9c39c2b772579de976b10f2bec11138efe5a"


def _module() -> Any:
    from cfnlint.context import context

    return context


def _context_evolve(original: Callable[..., Any]) -> Callable[..., Any]:
    """`Context.evolve`: a new context with the given attributes changed (`ref_values` merged
    into a copy of this one's)."""
    names = tuple(f.name for f in dataclasses.fields(_module().Context) if f.init)

    def evolve(self: Any, **kwargs: Any) -> Any:
        if "ref_values" in kwargs:
            new_ref_values = self.ref_values.copy()
            new_ref_values.update(kwargs["ref_values"])
            kwargs["ref_values"] = new_ref_values
        for name in names:
            if name not in kwargs:  # a plain attribute: reading it has no effect
                kwargs[name] = getattr(self, name)
        return self.__class__(**kwargs)

    return evolve


def _path_descend(original: Callable[..., Any]) -> Callable[..., Any]:
    """`Path.descend`: a new path with each given value appended to its part."""
    module = _module()
    names = tuple(f.name for f in dataclasses.fields(module.Path))
    functions = module.FUNCTIONS

    def descend(self: Any, **kwargs: Any) -> Any:
        if kwargs.get("cfn_path") in functions:
            raise ValueError(f"{kwargs['cfn_path']!r} cannot be in 'cfn_path'")
        elif isinstance(kwargs.get("cfn_path"), int):
            raise ValueError(f"{kwargs['cfn_path']!r} cannot be an integer")
        for name in names:
            if kwargs.get(name) is not None:
                kwargs[name] = getattr(self, name) + deque([kwargs[name]])
            else:
                kwargs[name] = getattr(self, name)
        return self.__class__(**kwargs)

    return descend


def _path_evolve(original: Callable[..., Any]) -> Callable[..., Any]:
    """`Path.evolve`: a new path with the given parts replaced."""
    names = tuple(f.name for f in dataclasses.fields(_module().Path))

    def evolve(self: Any, **kwargs: Any) -> Any:
        for name in names:
            if name not in kwargs:
                kwargs[name] = getattr(self, name)
        return self.__class__(**kwargs)

    return evolve


PATCHES = [
    Patch(
        "context-evolve",
        lambda: _module().Context,
        "evolve",
        CONTEXT_EVOLVE_DIGEST,
        _context_evolve,
    ),
    Patch("path-descend", lambda: _module().Path, "descend", PATH_DESCEND_DIGEST, _path_descend),
    Patch("path-evolve", lambda: _module().Path, "evolve", PATH_EVOLVE_DIGEST, _path_evolve),
]
