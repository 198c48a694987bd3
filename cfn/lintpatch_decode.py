"""Patches of cfn-lint's template decoder (`cfnlint.decode`): the same nodes, made with less work.

cfn-lint decodes every template (JSON is YAML) with PyYAML's C parser and its own constructor
in Python, which makes each mapping a `dict_node` and each string a `str_node` (a value with its
start and end marks). For a template that decoding is about a twentieth of lint CPU.

1. `str_node.__init__` first calls `str.__init__(self, x)`, which is `object.__init__` and
   always refuses the argument (a `TypeError`, raised and caught for every string of the
   template), then calls it without; then it sets the two marks. The replacement sets the two
   marks (applied only when the class is made from `str`, the one whose `__init__` refuses).
2. `NodeConstructor.construct_yaml_map` (each mapping) looks for merge keys twice, compares
   each key with every key before it (quadratic in the mapping's size) to find duplicates, then
   has PyYAML build the mapping a second time from the objects it has just made (a generator,
   a hashability check through an abstract base class per key, a dict, and a copy of it into
   the node). The replacement makes each key and value once, in the same order, through the
   same `construct_object`, finds a duplicate with the dict it fills, and makes the same
   `dict_node` from it. For a mapping with a merge (`<<`) or value (`=`) key, a `None` key, a
   key that cannot be hashed or a duplicate, it hands the mapping to cfn-lint's own method,
   which makes the same objects again (PyYAML keeps each node's object) and reports the error
   as before. PyYAML finds the method through its table of constructors (`yaml_constructors`),
   so the patch replaces it there as well as on the class.

Upstream: both changes, in `cfnlint.decode.node` and `cfnlint.decode.cfn_yaml`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cfn.lintpatch import Patch

STR_INIT_DIGEST = "061e08cd03d94919ca3b7f890792a8245a7bda459a60f633192ecf44ecfdaf04"
MAP_DIGEST = "9fbfd9aedc7168670589216c4ab60214e78db5301ac208dec152b9188b1f34c4"
MAP_TAG = "tag:yaml.org,2002:map"
# Key tags PyYAML's `flatten_mapping` acts on (a merge, a value key).
SPECIAL_KEY_TAGS = frozenset(("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"))


# -- 1. str_node.__init__ --------------------------------------------------------------------


def _str_node_init(original: Callable[..., Any]) -> Callable[..., Any] | None:
    """`str_node.__init__`: the node's start and end marks."""
    from cfnlint.decode import node

    cells = dict(zip(original.__code__.co_freevars, original.__closure__ or (), strict=False))
    if "cls" not in cells or cells["cls"].cell_contents is not str:
        return None
    mark = node.Mark

    def __init__(self: Any, x: Any, start_mark: Any = None, end_mark: Any = None) -> None:
        # (str's __init__ is object's, which does nothing here: cfn-lint's call of it with
        # `x` raises a TypeError it catches, and its call without does nothing.)
        self.start_mark = start_mark or mark()
        self.end_mark = end_mark or mark()

    return __init__


# -- 2. NodeConstructor.construct_yaml_map ---------------------------------------------------


def _construct_yaml_map(original: Callable[..., Any]) -> Callable[..., Any]:
    """`NodeConstructor.construct_yaml_map`: the mapping node's `dict_node`."""
    from cfnlint.decode.node import dict_node
    from yaml import MappingNode

    def construct_yaml_map(self: Any, node: Any) -> Any:
        if not isinstance(node, MappingNode) or any(
            key_node.tag in SPECIAL_KEY_TAGS for key_node, _ in node.value
        ):
            return original(self, node)
        mapping: dict[Any, Any] = {}
        construct = self.construct_object
        for key_node, value_node in node.value:
            key = construct(key_node, False)
            value = construct(value_node, False)
            try:
                known = key is None or key in mapping
            except TypeError:  # cannot be hashed
                known = True
            if known:  # an error cfn-lint reports (or a key it keeps twice): its own method
                return original(self, node)
            mapping[key] = value
        return dict_node(
            mapping, node.start_mark, node.end_mark, getattr(node, "using_merge", False)
        )

    return construct_yaml_map


class ConstructorPatch(Patch):
    """A `Patch` of a constructor method that also replaces it in PyYAML's table of
    constructors (of the class and of the loader cfn-lint uses) where the table holds it."""

    def __init__(self, name: str, tag: str, digest: str, make: Callable[[Any], Any]) -> None:
        super().__init__(name, _constructor_class, "construct_yaml_map", digest, make)
        self.tag = tag
        self.tables: list[dict[str, Any]] = []

    def install(self) -> bool:
        if self.installed:
            return True
        if not super().install():
            return False
        from cfnlint.decode import cfn_yaml

        for cls in (cfn_yaml.NodeConstructor, cfn_yaml.CfnFullLoader):
            table = cls.__dict__.get("yaml_constructors")
            if table is not None and table.get(self.tag) is self.original:
                table[self.tag] = self.replacement
                self.tables.append(table)
        return True

    def uninstall(self) -> None:
        for table in self.tables:
            if table.get(self.tag) is self.replacement:
                table[self.tag] = self.original
        self.tables.clear()
        super().uninstall()


def _constructor_class() -> Any:
    from cfnlint.decode.cfn_yaml import NodeConstructor

    return NodeConstructor


def _str_node() -> Any:
    from cfnlint.decode.node import str_node

    return str_node


def constructor_in_use() -> Any:
    """The function cfn-lint's loader calls for a mapping (for the tests)."""
    from cfnlint.decode.cfn_yaml import CfnFullLoader

    return CfnFullLoader.yaml_constructors[MAP_TAG]


PATCHES = [
    Patch("str-node-init", _str_node, "__init__", STR_INIT_DIGEST, _str_node_init),
    ConstructorPatch("yaml-map", MAP_TAG, MAP_DIGEST, _construct_yaml_map),
]
