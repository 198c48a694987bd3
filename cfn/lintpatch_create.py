"""Patches of cfn-lint's validator classes (`cfnlint.jsonschema.validators.create`).

1. `create`: reuse validator classes between calls instead of re-creating them on every call.
   cfn-lint 1.58 builds a new `@dataclass` class each time a rule extends a validator
   (`Validator.extend`, called by `BaseJsonSchema.extend_validator` for almost every resource
   property it checks): about a tenth of lint CPU goes into `dataclasses._process_class`. The
   class only closes over the three arguments of `create`, so two calls with equal arguments
   make classes that behave the same; `create` is memoised on them (upstream: a cache on
   `create`):
   - keyed by everything the class closes over: each validator callable (compared as Python
     compares them: a bound method by its object's identity and its function), the function
     filter's field values, each function resolver; arguments that cannot be keyed
     (unhashable callables) are passed to the original `create` untouched;
   - the cache holds its keys' objects alive, so an identity in a key is never reused;
   - the function filter a cached class carries is equal field by field to the one asked for,
     and cfn-lint never mutates a filter (it `evolve`s new ones).
2. `Validator.evolve` (called for every schema keyword descended into) walks
   `dataclasses.fields(Validator)` on every call and makes the copy through the constructor.
   A class's fields never change, so each class's evolve reads them once; and when the class's
   `__init__` is the generated one and its `__post_init__` the one we read, the copy gets what
   they would set: the instance's dictionary (when it holds exactly the fields, in field
   order: as many entries as fields, since `__init__` set every field and cfn-lint deletes
   none) with the changes, each non-argument field what its default factory returns (read
   without the call for `lambda: x` of a cell of `create`'s, which `create` sets once, or of
   a module global, read at each copy), and no call when neither context nor resolver is None
   (the only case `__post_init__` acts on). Anything else goes through the constructor as
   before. (Upstream: a tuple of field names
   and a `__replace__`-style copy.)

Both replace `create` (the second wraps it so that every class it returns, and the two module
classes made at import, get the faster `evolve`); `create` is rebuilt from cfn-lint's own
whenever either is applied or removed.
"""

from __future__ import annotations

import builtins
import dataclasses
import dis
import weakref
from collections.abc import Callable
from typing import Any

from cfn.lintpatch import is_the_one_we_read

CREATE_DIGEST = "aca07a377477297e36b122f433b9804393a61b7d7de5c8a1fc706ddc4e04933a"
EVOLVE_DIGEST = "423b51ffcdf4cd9642e521b257f4267432551b587d2cf02b9cb9dd90662d7c98"
POST_INIT_DIGEST = "78d2d1a1cd27795d5d57594e48e81e46828b0385902cc2ff55ac8ba7bac1ea29"
_MAX_CLASSES = 4096  # far above the distinct keys one rule set makes (about a hundred)


def _module() -> Any:
    from cfnlint.jsonschema import validators

    return validators


# -- 1. memoised create -------------------------------------------------------------------------


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


def memoised_create(original: Callable[..., Any]) -> Callable[..., Any]:
    """`original` (cfn-lint's `create`), returning the same class for equal arguments."""
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


# -- 2. Validator.evolve with its init fields computed once -------------------------------------


def _closure_class(evolve: Any) -> Any:
    """The `Validator` class `evolve` reads its fields from (a variable of its closure)."""
    return evolve.__closure__[evolve.__code__.co_freevars.index("Validator")].cell_contents


def _plain_init(cls: Any) -> bool:
    """Whether making an instance of `cls` is its generated `__init__` setting each field (from
    an argument, or a default factory when it is not an argument) and then the `__post_init__`
    we read, which only fills in a context or a resolver left None."""
    fields = dataclasses.fields(cls)
    init = cls.__dict__.get("__init__")
    return (
        init is not None
        and init.__code__.co_filename == "<string>"  # made by dataclasses
        and "__slots__" not in cls.__dict__
        and is_the_one_we_read(cls.__dict__.get("__post_init__"), POST_INIT_DIGEST)
        and all(f.init or f.default_factory is not dataclasses.MISSING for f in fields)
        and not any(hasattr(type(cls.__dict__.get(f.name)), "__set__") for f in fields)
    )


def factory_reads(factories: Any) -> tuple[Any, Any, Any]:
    """The default factories of a class's non-argument fields, split into what they return
    without being called: `lambda: x` of a closure's variable (its cell) or of a module's global
    (that module's dictionary and the name), and the rest (called)."""
    cells, global_reads, others = [], [], []
    for name, factory in factories:
        code = getattr(factory, "__code__", None)
        steps = [
            i
            for i in (dis.get_instructions(code) if code is not None else ())
            if i.opname not in ("RESUME", "COPY_FREE_VARS", "NOP")
        ]
        shape = [i.opname for i in steps]
        if shape == ["LOAD_DEREF", "RETURN_VALUE"] and not code.co_cellvars:
            cells.append((name, factory.__closure__[code.co_freevars.index(steps[0].argval)]))
        elif (
            shape == ["LOAD_GLOBAL", "RETURN_VALUE"]
            and not steps[0].arg & 1  # no NULL pushed: a plain load
            and steps[0].argval in factory.__globals__
            and not hasattr(builtins, steps[0].argval)
        ):
            global_reads.append((name, factory.__globals__, steps[0].argval))
        else:
            others.append((name, factory))
    return tuple(cells), tuple(global_reads), tuple(others)


def fast_evolve(original: Callable[..., Any]) -> Callable[..., Any]:
    """`original` (one class's `Validator.evolve`), with the class's fields read once; the copy
    is made as its `__init__` would make it, without the call (see `_plain_init`)."""
    cls = _closure_class(original)
    fields = dataclasses.fields(cls)
    names = tuple(f.name for f in fields if f.init)
    init_names = frozenset(names)
    field_count = len(fields)
    cells, global_reads, others = factory_reads(
        (f.name, f.default_factory) for f in fields if not f.init
    )
    # A cell of `create`'s: its code (read, by digest) sets it once, before making the class.
    constants = {name: cell.cell_contents for name, cell in cells}
    plain = _plain_init(cls)
    new, set_attribute = object.__new__, object.__setattr__

    def evolve(self: Any, **kwargs: Any) -> Any:
        own = self.__dict__
        # Every field is in the dictionary (`__init__` set each; cfn-lint deletes none): the
        # same count means nothing else is.
        same = plain and self.__class__ is cls and len(own) == field_count
        if same and init_names.issuperset(kwargs):
            values = own.copy()  # every field, in the order `__init__` set them
            values.update(kwargs)
            # What the default factories return, as `__init__` sets them.
            values.update(constants)
            for name, space, variable in global_reads:
                values[name] = space[variable]
            for name, factory in others:
                values[name] = factory()
            if values["context"] is not None and values["resolver"] is not None:
                made = new(cls)  # `__post_init__` would change nothing
                set_attribute(made, "__dict__", values)
                return made
        for name in names:
            if name not in kwargs:  # a plain attribute: reading it has no effect
                kwargs[name] = getattr(self, name)
        return self.__class__(**kwargs)

    evolve.__wrapped__ = original  # type: ignore[attr-defined]
    evolve.__doc__ = original.__doc__
    return evolve


class _Evolved:
    """The classes given a fast `evolve`, to give them their own back."""

    def __init__(self) -> None:
        self.classes: weakref.WeakKeyDictionary[type, Any] = weakref.WeakKeyDictionary()

    def speed_up(self, cls: Any) -> None:
        if cls in self.classes or not isinstance(cls, type):
            return
        original = cls.__dict__.get("evolve")
        # Only the evolve `create` gave this very class (its closure's `Validator`).
        if is_the_one_we_read(original, EVOLVE_DIGEST) and _closure_class(original) is cls:
            cls.evolve = fast_evolve(original)
            self.classes[cls] = original

    def restore(self) -> None:
        for cls, original in list(self.classes.items()):
            cls.evolve = original
        self.classes.clear()


def with_fast_evolve(create: Callable[..., Any], evolved: _Evolved) -> Callable[..., Any]:
    """`create`, giving every class it returns the fast `evolve`."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        cls = create(*args, **kwargs)
        evolved.speed_up(cls)
        return cls

    wrapper.__wrapped__ = create  # type: ignore[attr-defined]
    wrapper.cache = getattr(create, "cache", None)  # type: ignore[attr-defined]
    return wrapper


# -- the two patches, sharing cfn-lint's `create` ----------------------------------------------


class _CreateOwner:
    """Holds cfn-lint's own `create` while either patch is applied, and rebuilds the module's
    `create` from it and the patches applied."""

    def __init__(self) -> None:
        self.original: Any = None
        self.enabled: set[str] = set()
        self.evolved = _Evolved()

    def set(self, name: str, on: bool) -> bool:
        module = _module()
        if self.original is None:
            if not on:
                return True
            if not is_the_one_we_read(module.__dict__.get("create"), CREATE_DIGEST):
                return False
            self.original = module.create
        (self.enabled.add if on else self.enabled.discard)(name)
        self._rebuild(module)
        return True

    def _rebuild(self, module: Any) -> None:
        self.evolved.restore()
        create = self.original
        if "create" in self.enabled:
            create = memoised_create(create)
        if "validator-evolve" in self.enabled:
            create = with_fast_evolve(create, self.evolved)
            for made_at_import in (module.CfnTemplateValidator, module.StandardValidator):
                self.evolved.speed_up(made_at_import)
        module.create = create
        if not self.enabled:
            self.original = None


_OWNER = _CreateOwner()


class CreatePatch:
    """One of the two patches of `create`; see the module's docstring."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def installed(self) -> bool:
        return self.name in _OWNER.enabled

    def install(self) -> bool:
        return self.installed or _OWNER.set(self.name, True)

    def uninstall(self) -> None:
        if self.installed:
            _OWNER.set(self.name, False)


PATCHES = [CreatePatch("create"), CreatePatch("validator-evolve")]
