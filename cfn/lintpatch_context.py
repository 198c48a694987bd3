"""Patches of cfn-lint's small dataclasses' copies: the evaluation context
(`cfnlint.context.context`) and the function filter (`cfnlint.jsonschema._filter`).

`Context.evolve`, `Path.descend` and `Path.evolve` run for every schema keyword a validator
descends into (a fifth of lint CPU between them); `FunctionFilter.evolve` nearly as often.
Each walks `dataclasses.fields(...)` of its class on every call; the first three make the copy
through the frozen dataclass's `__init__`, which sets each of the (sixteen) fields through
`object.__setattr__`. The replacements

- read the field names once, when the patch is applied (a class's fields never change);
- append to a copy of a path's deque instead of adding a one-item deque to it (the same new
  deque: `deque + deque` copies the first, maxlen kept, and extends it);
- give the copy a dictionary that is the instance's (when it holds exactly the fields, in the
  order the generated `__init__` set them: as many entries as fields, since `__init__` set
  each field and a frozen dataclass refuses a `del`) with the changes applied: what the generated
  `__init__` makes, for a class whose `__init__` is that and nothing else (checked when the
  patch is applied: no `__post_init__`, no init-only variable, no field that is not an init
  argument, no descriptor or slot); for a subclass, an unknown argument or an instance with
  other attributes (a cached property) they call the constructor as before.

`FunctionFilter` has a field that is not an init argument (a fresh list each time), so its
evolve keeps calling the constructor, with the names read once. Everything else is the same
code: the same checks, the same values (upstream: the same, with a tuple of field names and a
`__replace__`-style copy).

`Context.module_names` (the template's module resources, asked for at every `Fn::GetAtt`,
`DependsOn` and dynamically validated value) is a cached property of each context; contexts
are copied at every keyword, so it is made again from all of the template's resources, over
and over. It depends on the context's `resources` alone (the same dict in every copy made
from a template's context; cfn-lint never changes it): the replacement keeps the answer per
`resources` object and gives it to every context that has it (leaving the context's own
attributes as they are, so its copies take the fast path above). Upstream: compute it when
the template's context is made.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections import deque
from collections.abc import Callable
from typing import Any

from cfn.lintpatch import Patch, is_the_one_we_read

CONTEXT_EVOLVE_DIGEST = "978b28a1f740959d0efab926108e3f534622aeb229fe41b59c1cb8af30494b33"
PATH_DESCEND_DIGEST = "92949c93239f429f45eb02754fe333a29052ee82e645613f74629ea346eae285"
PATH_EVOLVE_DIGEST = "6dbd76b724efddaca6074479e91e9c39c2b772579de976b10f2bec11138efe5a"
MODULE_NAMES_DIGEST = "14894e393f13475a395ef72a4217e2b0826bd45d75847b1cb85dfd9f24bb4920"
_MAX_RESOURCES = 64  # `resources` dicts kept (one per template): bounded for a long --watch
FILTER_EVOLVE_DIGEST = "00efc5f2e919c0df8ae443cbd9d5dd2a9566de599c0631d7caa076283fb17cc1"


def _module() -> Any:
    from cfnlint.context import context

    return context


def plain_fields(cls: type) -> tuple[str, ...] | None:
    """The field names of dataclass `cls` when making an instance is nothing but setting them:
    its `__init__` is the generated one, taking exactly the fields, with no `__post_init__`
    and no descriptor or slot in the way; None otherwise."""
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
        return None
    init = cls.__dict__.get("__init__")
    generated = cls.__dataclass_params__.init and init is not None  # type: ignore[attr-defined]
    if "__slots__" in cls.__dict__ or not generated or init.__code__.co_filename != "<string>":
        return None
    names = tuple(f.name for f in dataclasses.fields(cls))
    if any(not f.init for f in dataclasses.fields(cls)):
        return None
    if tuple(inspect.signature(cls.__init__).parameters)[1:] != names:  # no InitVar
        return None
    if any(hasattr(type(cls.__dict__.get(n)), "__set__") for n in names):
        return None
    return names


def _maker(cls: type, names: tuple[str, ...]) -> Callable[[Any, dict[str, Any]], Any]:
    """make(self, changes): a new instance of `self`'s class, like `cls(**fields)` with the
    fields `self` has, `changes` applied; by `cls(**...)` itself when it could differ (an
    unknown name, a subclass)."""
    known = frozenset(names)
    count = len(names)
    new = object.__new__
    set_attribute = object.__setattr__

    def make(self: Any, changes: dict[str, Any]) -> Any:
        own = self.__dict__
        # Every field is in the dictionary (`__init__` set each; a frozen dataclass refuses a
        # `del`, cfn-lint deletes none): the same count means nothing else is (a cached
        # property's answer, say).
        if self.__class__ is not cls or len(own) != count or not known.issuperset(changes):
            for name in names:
                if name not in changes:
                    changes[name] = getattr(self, name)
            return self.__class__(**changes)
        made = new(cls)
        # Exactly the fields, in the order the generated __init__ set them in `self`.
        values = own.copy()
        values.update(changes)
        set_attribute(made, "__dict__", values)
        return made

    return make


def _context_evolve(original: Callable[..., Any]) -> Callable[..., Any] | None:
    """`Context.evolve`: a new context with the given attributes changed (`ref_values` merged
    into a copy of this one's)."""
    cls = _module().Context
    names = plain_fields(cls)
    if names is None:
        return None
    make = _maker(cls, names)

    def evolve(self: Any, **kwargs: Any) -> Any:
        if "ref_values" in kwargs:
            new_ref_values = self.ref_values.copy()
            new_ref_values.update(kwargs["ref_values"])
            kwargs["ref_values"] = new_ref_values
        return make(self, kwargs)

    return evolve


def _path_descend(original: Callable[..., Any]) -> Callable[..., Any] | None:
    """`Path.descend`: a new path with each given value appended to its part."""
    module = _module()
    names = plain_fields(module.Path)
    if names is None:
        return None
    make = _maker(module.Path, names)
    functions = module.FUNCTIONS

    def descend(self: Any, **kwargs: Any) -> Any:
        if kwargs.get("cfn_path") in functions:
            raise ValueError(f"{kwargs['cfn_path']!r} cannot be in 'cfn_path'")
        elif isinstance(kwargs.get("cfn_path"), int):
            raise ValueError(f"{kwargs['cfn_path']!r} cannot be an integer")
        for name in names:
            part = getattr(self, name)
            added = kwargs.get(name)
            if added is None:
                kwargs[name] = part
            elif type(part) is deque:  # `part + deque([added])`, without the one-item deque
                kwargs[name] = extended = part.copy()
                extended.append(added)
            else:
                kwargs[name] = part + deque([added])
        return make(self, kwargs)

    return descend


def _path_evolve(original: Callable[..., Any]) -> Callable[..., Any] | None:
    """`Path.evolve`: a new path with the given parts replaced."""
    cls = _module().Path
    names = plain_fields(cls)
    if names is None:
        return None
    make = _maker(cls, names)

    def evolve(self: Any, **kwargs: Any) -> Any:
        return make(self, kwargs)

    return evolve


def _filter_evolve(original: Callable[..., Any]) -> Callable[..., Any]:
    """`FunctionFilter.evolve`: a new filter with the given attributes changed (through its
    constructor: a field that is not an init argument gets a fresh default)."""
    from cfnlint.jsonschema._filter import FunctionFilter

    names = tuple(f.name for f in dataclasses.fields(FunctionFilter) if f.init)

    def evolve(self: Any, **kwargs: Any) -> Any:
        for name in names:
            if name not in kwargs:  # a plain attribute: reading it has no effect
                kwargs[name] = getattr(self, name)
        return self.__class__(**kwargs)

    return evolve


class KeptPerResources:
    """`Context.module_names` as a property whose answer is kept per `resources` object."""

    def __init__(self, original: functools.cached_property) -> None:
        self.__wrapped__ = original
        self.__doc__ = original.__doc__
        self.function = original.func
        self.kept: dict[int, tuple[Any, Any]] = {}

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        resources = instance.resources
        entry = self.kept.get(id(resources))
        if entry is None or entry[0] is not resources:
            if len(self.kept) >= _MAX_RESOURCES:
                self.kept.clear()
            # The entry holds the resources alive: their identity is not reused while kept.
            entry = self.kept[id(resources)] = (resources, self.function(instance))
        return entry[1]


class CachedPropertyPatch(Patch):
    """A `Patch` of a `functools.cached_property` (its function is the code checked)."""

    def install(self) -> bool:
        if self.original is not None:
            return True
        owner = self.owner()
        original = owner.__dict__.get(self.attribute)
        if not isinstance(original, functools.cached_property) or not is_the_one_we_read(
            original.func, self.digest
        ):
            return False
        self.replacement = self._make(original)
        setattr(owner, self.attribute, self.replacement)
        self.original = original
        return True


def _filter_class() -> Any:
    from cfnlint.jsonschema._filter import FunctionFilter

    return FunctionFilter


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
    Patch("filter-evolve", _filter_class, "evolve", FILTER_EVOLVE_DIGEST, _filter_evolve),
    CachedPropertyPatch(
        "context-module-names",
        lambda: _module().Context,
        "module_names",
        MODULE_NAMES_DIGEST,
        KeptPerResources,
    ),
]
