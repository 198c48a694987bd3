"""Patch of cfn-lint's condition scenarios (`Conditions.evolve_from_instance`, in
`cfnlint.context.conditions._conditions`): a value with no `Fn::If` where cfn-lint looks for one
gets its single scenario without the search for conditions and the scenario enumeration.

The function filter asks for the scenarios of every value it validates with a keyword that
counts properties or items (`required`, `minItems`, `if`, ...): thousands of times per template,
in templates with conditions and without (about a fifteenth of a service template's lint).
cfn-lint 1.58's code, at each call,
1. collects the names of the conditions of the `Fn::If`s in the value (the value itself, its
   items, its properties' values and their items; `get_conditions_from_property`), building a
   new set at each step;
2. enumerates the scenarios of those conditions (`_build_conditions`): for no condition, the
   one empty assignment, for which `Conditions.evolve({}, assumed=True)` is the conditions
   object itself;
3. yields, per scenario, the value with its `Fn::If`s resolved and its `Ref: AWS::NoValue`s
   dropped (`build_instance_from_scenario`, which reads the scenario only at an `Fn::If` whose
   condition it names, and visits no position step 1 does not visit) and the scenario.

The replacement first looks at the positions step 1 visits for any object with an `Fn::If` key
(every `Fn::If` step 1 can find is one, valid or not). When there is none, step 1 finds no
condition, so the result is one pair: `build_instance_from_scenario(value, ...)`, which never
reads its scenario here, and the conditions object itself; the replacement yields that, made by
cfn-lint's own `build_instance_from_scenario`. Otherwise (or for a subclass of `Conditions`), it
runs cfn-lint's code. Applied only when the functions it reasons about (`evolve`,
`_build_conditions`, `get_conditions_from_property`, `build_instance_from_scenario`) are the
ones we read. Upstream: the same early exit in `evolve_from_instance` (or
`get_conditions_from_property` made a cheap walk that returns early).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from cfn.lintpatch import Patch, is_the_one_we_read

EVOLVE_FROM_INSTANCE_DIGEST = "db61366a463d1250725dde4096fe37745a72beb02fe6a3c796a7b5fdeecbd9d3"
READ = {  # what the replacement relies on: (module, name, digest)
    ("_conditions", "Conditions.evolve"): (
        "e9c65fb62b86b33010f210f22f721c4600cdca772f2713cc8eb42f34f24aca05"
    ),
    ("_conditions", "Conditions._build_conditions"): (
        "6a9a84ac6043d238c0933c28ad64fe06465f2f22b2711adf2ce760053821d180"
    ),
    ("_utils", "get_conditions_from_property"): (
        "12b4ee912c7967e08625201f900cfe858ad5d9e7343b552696d003213761fb70"
    ),
    ("_utils", "build_instance_from_scenario"): (
        "8c7debbf77c0b5b4adb8a9b413ed8a258a58bfa5d6c46e83a998a182b7a6964d"
    ),
}


def _modules() -> dict[str, Any]:
    from cfnlint.context.conditions import _conditions, _utils

    return {"_conditions": _conditions, "_utils": _utils}


def _read(modules: dict[str, Any], where: str, name: str) -> Any:
    owner = modules[where]
    for part in name.split("."):
        owner = owner.__dict__.get(part) if isinstance(owner, type) else getattr(owner, part, None)
    return owner


def reaches_if(instance: Any, is_root: bool = True) -> bool:
    """Whether an object with an `Fn::If` key is at a position `get_conditions_from_property`
    visits: the value, its items (at any depth of lists), its properties' values (when it is
    an object) and their items."""
    if isinstance(instance, list):
        for item in instance:  # noqa: SIM110 (a loop: cheaper than any() over a generator)
            if isinstance(item, (list, dict)) and reaches_if(item, False):
                return True
        return False
    if isinstance(instance, dict):
        if "Fn::If" in instance:
            return True
        if is_root:
            for value in instance.values():
                if isinstance(value, (list, dict)) and reaches_if(value, False):
                    return True
    return False


def _evolve_from_instance(original: Callable[..., Any]) -> Callable[..., Any] | None:
    """`Conditions.evolve_from_instance`: (value in a scenario, scenario) pairs."""
    modules = _modules()
    if not all(is_the_one_we_read(_read(modules, *where), d) for where, d in READ.items()):
        return None
    conditions_module = modules["_conditions"]
    build = modules["_utils"].build_instance_from_scenario
    if (
        conditions_module.build_instance_from_scenario is not build
        or conditions_module.get_conditions_from_property
        is not modules["_utils"].get_conditions_from_property
    ):
        return None
    cls = conditions_module.Conditions

    def evolve_from_instance(self: Any, instance: Any, context: Any) -> Iterator[Any]:
        if self.__class__ is not cls or reaches_if(instance):
            yield from original(self, instance, context)
            return
        # No condition: one scenario, this object; its status is never read (no Fn::If).
        yield (build(instance, {}, is_root=True, context=context), self)

    return evolve_from_instance


def _conditions_class() -> Any:
    return _modules()["_conditions"].Conditions


PATCHES = [
    Patch(
        "conditions-none",
        _conditions_class,
        "evolve_from_instance",
        EVOLVE_FROM_INSTANCE_DIGEST,
        _evolve_from_instance,
    )
]
