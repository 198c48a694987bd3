"""Patches of cfn-lint's schema reference resolver (`cfnlint.schema.resolver._resolver`): a
schema's objects with an id searched once per schema, not once per resolver and reference; a
resolver's caches made when first used.

cfn-lint makes a new `RefResolver` for each property it validates against a resource type's
schema (`BaseJsonSchema.extend_validator`), so the resolver's own caches start empty each time;
its first `$ref` walks the whole schema for the objects that have an `$id`, `id`, `$anchor` or
`$dynamicAnchor` (`_get_subschemas_cache`), and each `#/...` reference it resolves walks the
schema twice more, for `id` and for `$id` (`resolve_fragment`). The walk's result depends only on
the schema's tree of objects, so the patch keeps it per schema object (the same object, held
alive with it) and gives each resolver the same lists the walk would give, in the same order.
`resolve_fragment` is otherwise cfn-lint's code.

This rests on what cfn-lint 1.58's code does with schemas: they are built before they are used
and not changed after (where a rule adapts one, it changes a copy: `GetAz`, `RefFormat`, the
function filter), and values the walk does not enter (lists) are all a rule ever appends to.
A schema object changed after it was first searched would make this stale; the findings test
over the corpus compares with and without it. Upstream: cache the search per schema object.

`RefResolver.__post_init__` (a new resolver for each property and each function validated:
thousands per template) wraps three functions in `functools.lru_cache`, whose wrapper copies
each function's name, documentation and attributes: about a fiftieth of lint CPU. One of the
three caches is never called in cfn-lint 1.58 (`_cache_cfn_pointer`), the other bound one
(`_cache`, of `resolve_from_url`) only when a `$ref` is not found among the schema's own ids,
and the third wraps `urllib.parse.urljoin`, a function of its arguments alone. The replacement
gives every resolver one shared cache of `urljoin` (the same answers) and, for the two bound
ones, a stand-in that makes the same `lru_cache` of the same bound method at its first call,
puts it in the resolver's field and calls it. Upstream: make the caches lazily, share the
`urljoin` one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urljoin

from cfn.lintpatch import Patch

SUBSCHEMAS_DIGEST = "052cc1552b476addb21eb0f64fa17b0f8dcb7be6db11ef95bc0beb54c19495e4"
FRAGMENT_DIGEST = "42185505659fcdcaab1e364b6227652e1c7f18780a901d88e46a6f658937f17e"
POST_INIT_DIGEST = "47c9ff9d0b33b453710afa0e1498b487d74895c410386ac1e06f4a2dc9a10916"
KEYWORDS = ("$id", "id", "$anchor", "$dynamicAnchor")
CACHE_SIZE = 1024  # cfn-lint's, for each of a resolver's caches  # cfn-lint's _SUBSCHEMAS_KEYWORDS
_MAX_SCHEMAS = 4096

# id(schema) -> (schema, {keyword: [objects with it, in the walk's order]})
_searched: dict[int, tuple[Any, dict[str, list[Any]]]] = {}


def _module() -> Any:
    from cfnlint.schema.resolver import _resolver

    return _resolver


def with_ids(schema: Any) -> dict[str, list[Any]]:
    """keyword -> the objects of `schema` that have it, in the order cfn-lint's walk
    (`_search_schema`) finds them."""
    entry = _searched.get(id(schema))
    if entry is not None and entry[0] is schema:
        return entry[1]
    found: dict[str, list[Any]] = {keyword: [] for keyword in KEYWORDS}
    for value in _module()._search_schema(schema, lambda value: (value,)):
        for keyword in KEYWORDS:
            if keyword in value:
                found[keyword].append(value)
    if len(_searched) >= _MAX_SCHEMAS:
        _searched.clear()
    _searched[id(schema)] = (schema, found)  # holds the schema: its id is not reused
    return found


def _subschemas_cache(original: Callable[..., Any]) -> Callable[..., Any]:
    """`RefResolver._get_subschemas_cache`: the referrer's objects with an id, per keyword."""

    def _get_subschemas_cache(self: Any) -> Any:
        if self._subschemas_cache is not None:
            return self._subschemas_cache
        found = with_ids(self.referrer)
        self._subschemas_cache = {keyword: list(found[keyword]) for keyword in KEYWORDS}
        return self._subschemas_cache

    return _get_subschemas_cache


def _resolve_fragment(original: Callable[..., Any]) -> Callable[..., Any]:
    """`RefResolver.resolve_fragment`: the object a URI fragment names within `document`."""
    from collections.abc import Sequence

    from cfnlint.schema.resolver import RefResolutionError

    def resolve_fragment(self: Any, document: Any, fragment: str) -> Any:
        fragment = fragment.lstrip("/")
        if not fragment:
            return document
        found = with_ids(document)
        for keyword in ["id", "$id"]:
            for subschema in found[keyword]:
                if "#" + fragment == subschema[keyword]:
                    return subschema
        for part in unquote(fragment).split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(document, Sequence):
                with contextlib.suppress(ValueError):  # array indexes are integers
                    part = int(part)
            try:
                document = document[part]
            except (TypeError, LookupError) as e:
                raise RefResolutionError(f"Unresolvable JSON pointer: {fragment!r}") from e
        return document

    return resolve_fragment


class CacheAtFirstCall:
    """Stands in a resolver's field for `lru_cache(CACHE_SIZE)(getattr(resolver, method))`,
    which it makes, puts in the field and calls at its first call."""

    __slots__ = ("field", "method", "resolver")

    def __init__(self, resolver: Any, field: str, method: str) -> None:
        self.resolver, self.field, self.method = resolver, field, method

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        made = lru_cache(CACHE_SIZE)(getattr(self.resolver, self.method))
        if getattr(self.resolver, self.field) is self:
            setattr(self.resolver, self.field, made)
        return made(*args, **kwargs)


def _post_init(original: Callable[..., Any]) -> Callable[..., Any]:
    """`RefResolver.__post_init__`: the scope stack, the caches and the store."""
    shared_urljoin = lru_cache(CACHE_SIZE)(urljoin)

    def __post_init__(self: Any) -> None:
        self._scopes_stack = [self.base_uri]
        if self._cache is None:
            self._cache = CacheAtFirstCall(self, "_cache", "resolve_from_url")
        if self._cache_cfn_pointer is None:
            self._cache_cfn_pointer = CacheAtFirstCall(
                self, "_cache_cfn_pointer", "resolve_cfn_pointer"
            )
        if self._urljoin_cache is None:
            self._urljoin_cache = shared_urljoin
        if self.store is None:
            self.store = {}  # (cfn-lint then adds the `$id`s of the schemas in it: none)

    return __post_init__


PATCHES = [
    Patch(
        "resolver-subschemas",
        lambda: _module().RefResolver,
        "_get_subschemas_cache",
        SUBSCHEMAS_DIGEST,
        _subschemas_cache,
    ),
    Patch(
        "resolver-fragment",
        lambda: _module().RefResolver,
        "resolve_fragment",
        FRAGMENT_DIGEST,
        _resolve_fragment,
    ),
    Patch(
        "resolver-caches",
        lambda: _module().RefResolver,
        "__post_init__",
        POST_INIT_DIGEST,
        _post_init,
    ),
]
