"""Patches of cfn-lint's `Template` (`cfnlint.template.template`): work that depends only on the
template done once per template instead of once per question.

1. `search_deep_keys`: one walk of the template for every key searched, instead of one walk
   per key.

`Template.search_deep_keys(key)` walks the whole template and returns, for each place the key
occurs, its path and the value found there. cfn-lint 1.58 calls it about twenty times for each
template, each time walking every node again: eight while making the `Template` (`Ref`,
`Fn::Sub`, `Fn::If`, `Fn::FindInMap`, `Fn::ForEach`, then `Ref`, `Fn::GetAtt` and `Fn::Sub`
again for the graph, before the method is cached per template), then a key per rule (`Condition`,
`AWS::CloudFormation::Module`, nine password property names for W2501). The walk's result for a
string key depends only on the template's tree; the replacement walks it once, when a first
string key is searched, recording for every string key the paths (each ending with the value
found), in the order cfn-lint's walk (`_search_deep_keys`) finds them, and gives each search new
lists built from them, as the walk would.

What makes this hold, in cfn-lint 1.58's code: the tree is not changed while a template is
linted, but by a transform (which replaces the template; kept results belong to the template
object they were made from) and by four RDS rules that lower-case an `Engine` value (no search
asks for that key; and the walk of the original would see the value as it is at the search,
the same as the kept one until then). A template with a `Transform` section, a search for a
pattern (not a string) and a search that would include a transform's `Globals` go to cfn-lint's
own walk. Upstream: index the template's keys once (the method's per-template cache already
assumes the tree does not change).

2. `get_valid_getatts`: the attributes of every resource of the template, in each of its
   regions, looked up in the resource schemas. E1010 asks for them for every `Fn::GetAtt`
   (and W1020 once), so a template with many resources and many `Fn::GetAtt`s pays for them
   quadratically (about a ninth of the root template's lint with a hundred services). The
   replacement keeps the answer with the template, for the context's resources (the same
   object) and the template's regions (the same names) it was made from; the callers only
   read it (`GetAtts.match`). Upstream: build it once per template (or per context).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cfn.lintpatch import Patch

SEARCH_DIGEST = "ee26c1261165d553a63f0397082dcd0e77b7aa81d9791623b02a65aaf5432ad5"
GETATTS_DIGEST = "beb16550dae8d2de9421d0bd3fc8c6e04a1969c7919f80613513d9ecd6bab58b"
# Where a template keeps its attributes: (the context's resources, the regions, the answer).
GETATTS_ATTRIBUTE = "_cfn_valid_getatts"
# Where a template keeps its index: (the tree it was made from, {key: [path, ...]}).
INDEX_ATTRIBUTE = "_cfn_deep_keys"

Paths = dict[str, list[tuple[Any, ...]]]


def deep_keys(tree: Any) -> Paths:
    """key -> the path of each place the (string) key occurs in `tree`, each ending with the value
    found there, in the order cfn-lint's `_search_deep_keys` finds them."""
    found: Paths = {}

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        if isinstance(node, dict):
            for key in node:
                value = node[key]
                here = (*path, key)
                if isinstance(key, str):
                    found.setdefault(key, []).append((*here, value))
                if isinstance(value, dict):
                    walk(value, here)
                elif isinstance(value, list):
                    for index, item in enumerate(value):
                        walk(item, (*here, index))
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, (*path, index))

    walk(tree, ())
    return found


def _search_deep_keys(original: Callable[..., Any]) -> Callable[..., Any]:
    """`Template.search_deep_keys`: the path of each place `searchText` occurs as a key."""

    def search_deep_keys(self: Any, searchText: Any, includeGlobals: bool = True) -> Any:
        tree = self.template
        if (
            not isinstance(searchText, str)
            or not isinstance(tree, dict)
            or "Transform" in tree
            or (includeGlobals and self.transform_pre.get("Globals"))
        ):
            return original(self, searchText, includeGlobals)
        entry = self.__dict__.get(INDEX_ATTRIBUTE)
        if entry is None or entry[0] is not tree:
            # The entry holds the tree alive: its identity is not reused while kept.
            entry = (tree, deep_keys(tree))
            self.__dict__[INDEX_ATTRIBUTE] = entry
        # `str` subclasses (the decoder's nodes) compare and hash as their text.
        return [list(path) for path in entry[1].get(searchText, ())]

    return search_deep_keys


def _get_valid_getatts(original: Callable[..., Any]) -> Callable[..., Any]:
    """`Template.get_valid_getatts`: the attributes `Fn::GetAtt` can name, per region."""

    def get_valid_getatts(self: Any) -> Any:
        resources, regions = self.context.resources, tuple(self.regions)
        entry = self.__dict__.get(GETATTS_ATTRIBUTE)
        if entry is not None and entry[0] is resources and entry[1] == regions:
            return entry[2]
        found = original(self)
        # The entry holds the resources alive: their identity is not reused while kept.
        self.__dict__[GETATTS_ATTRIBUTE] = (resources, regions, found)
        return found

    return get_valid_getatts


def _template_class() -> Any:
    from cfnlint.template.template import Template

    return Template


PATCHES = [
    Patch(
        "template-deep-keys",
        _template_class,
        "search_deep_keys",
        SEARCH_DIGEST,
        _search_deep_keys,
    ),
    Patch(
        "template-getatts",
        _template_class,
        "get_valid_getatts",
        GETATTS_DIGEST,
        _get_valid_getatts,
    ),
]
