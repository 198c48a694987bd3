"""Constrained field types for the configuration models, and pydantic's errors in our words.

`between`, `matching`, `at_most` and `one_of` are validators for `Annotated[...]` fields: each
failure carries the rule as a phrase ("must be between 1 and 65535") and, where AWS sets the
rule, the id of its row in `cfn.limits`, so that the message can name the limit and its source.
`describe` turns one pydantic error into "<field> <value> <rule>" (or "missing field 'x'",
"unknown field 'x' (known: ...)", "x must be an integer, got '8000'"): a user never sees
pydantic's own wording, and the caller puts the environment and service in front.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sized
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BeforeValidator, Strict
from pydantic_core import ErrorDetails, PydanticCustomError

from cfn import limits

Int = Annotated[int, Strict()]
Str = Annotated[str, Strict()]
Bool = Annotated[bool, Strict()]

RULE = "config_rule"
S = TypeVar("S", bound=Sized)


def _fail(rule: str, limit: str | None) -> PydanticCustomError:
    return PydanticCustomError(RULE, "{rule}", {"rule": rule, "limit": limit or ""})


def between(lo: int, hi: int, limit: str | None = None) -> AfterValidator:
    """An integer from `lo` to `hi` inclusive."""

    def check(value: int) -> int:
        if not lo <= value <= hi:
            raise _fail(f"must be between {lo} and {hi}", limit)
        return value

    return AfterValidator(check)


def matching(pattern: str, rule: str, limit: str | None = None) -> AfterValidator:
    """A string matching `pattern` whole; `rule` says in words what that means."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise _fail(f"must be {rule}", limit)
        return value

    return AfterValidator(check)


def at_most(n: int, limit: str | None = None) -> AfterValidator:
    """A string or a list of at most `n` characters or entries."""

    def check(value: S) -> S:
        if len(value) > n:
            unit = "characters" if isinstance(value, str) else "entries"
            raise _fail(f"has {len(value)} {unit}; at most {n} are allowed", limit)
        return value

    return AfterValidator(check)


def not_empty(what: str) -> AfterValidator:
    """A list or table with at least one entry."""

    def check(value: S) -> S:
        if not len(value):
            raise _fail(f"needs at least one {what}", None)
        return value

    return AfterValidator(check)


def one_of(values: Iterable[int], service: str, limit: str | None = None) -> AfterValidator:
    """One of a fixed set of values that `service` accepts."""
    allowed = tuple(values)

    def check(value: int) -> int:
        if value not in allowed:
            listed = ", ".join(map(str, allowed))
            raise _fail(f"is not accepted by {service}; use one of {listed}", limit)
        return value

    return AfterValidator(check)


# -- the configuration's value types --------------------------------------------------------


def _sorted_pairs(value: Any) -> Any:
    """TOML's `{ KEY = "value" }` -> (key, value) pairs sorted by key; anything else fails."""
    if isinstance(value, Mapping):
        return tuple(sorted(value.items(), key=lambda kv: str(kv[0])))
    raise PydanticCustomError("dict_type", "not a table")


_LABEL = r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
DnsLabel = Annotated[
    Str, matching(_LABEL, "a DNS label (1-63 letters, digits, hyphens)", "cloudmap-service")
]
ProjectName = Annotated[
    Str,
    matching(r"[a-z][a-z0-9]{1,20}", "2-21 lowercase letters or digits, starting with a letter"),
]
Namespace = Annotated[
    Str,
    at_most(253, "cloudmap-namespace"),
    matching(
        rf"{_LABEL}(?:\.{_LABEL})*", "a DNS name (dot-separated DNS labels)", "cloudmap-namespace"
    ),
]
EnvName = Annotated[Str, matching(r"[a-z][a-z0-9]{0,15}", "1-16 lowercase letters or digits")]
VarName = Annotated[Str, matching(r"[A-Z_][A-Z0-9_]*", "an UPPER_CASE variable name")]
EnvPairs = Annotated[tuple[tuple[VarName, Str], ...], BeforeValidator(_sorted_pairs)]
UrlPath = Annotated[Str, matching(r"/[A-Za-z0-9_\-./*?]*", "a path starting with '/'")]
PathPattern = Annotated[UrlPath, at_most(128, "path-pattern-length")]
Action = Annotated[
    Str, matching(r"[a-z0-9-]+:[A-Za-z0-9*]+", "service:Action (e.g. s3:GetObject)", "iam-action")
]
Arn = Annotated[Str, matching(r"arn:aws[a-z-]*:\S+", "an ARN (arn:aws:...)")]
Count = Annotated[Int, between(0, 5000, "ecs-tasks")]
Seconds = Annotated[Int, between(0, 2_147_483_647)]


# -- pydantic's errors in the project's words --------------------------------------------------

_KINDS = {
    "int": "an integer",
    "string": "a string",
    "bool": "true or false",
    "list": "a list",
    "tuple": "a list",
    "dict": "a table",
    "model": "a table",
    "float": "a number",
}


def show(value: Any, width: int = 40) -> str:
    """A value as the message quotes it: its repr, cut short (a config can hold a novel)."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def field_name(loc: tuple[int | str, ...]) -> str:
    """`("path_patterns", 2)` -> `path_patterns[2]`; `("services", "x")` -> `services.x`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (as a key)"
        else:
            out += ("." if out else "") + str(part)
    return out or "value"


def describe(
    error: ErrorDetails,
    known: Iterable[str],
    shapes: Mapping[str, str] | None = None,
    rename: Callable[[tuple[int | str, ...]], tuple[int | str, ...]] | None = None,
) -> str:
    """One pydantic error as a phrase naming the field (no "where" in front).

    `known`: the model's field names, listed for an unknown field. `shapes`: how to say what a
    field must be when its type is wrong ("an array of tables ([[services]])").
    """
    loc = tuple(error["loc"])
    loc = rename(loc) if rename else loc
    name = field_name(loc)
    name = name if len(name) <= 80 else name[:79] + "…"
    kind, value = error["type"], error.get("input")
    if kind == "missing":
        return f"missing field {name!r}"
    if kind == "extra_forbidden":
        return f"unknown field {name!r} (known: {', '.join(sorted(known))})"
    if kind == RULE:
        ctx = error.get("ctx") or {}
        cited = f" {limits.cite(ctx['limit'])}" if ctx.get("limit") else ""
        return f"{name} {show(value)} {ctx.get('rule', 'is not valid')}{cited}"
    base = kind.split("_")[0]
    if base in _KINDS and (kind.endswith("_type") or "parsing" in kind or "from" in kind):
        wanted = (shapes or {}).get(name) or _KINDS[base]
        return f"{name} must be {wanted}, got {show(value)}"
    return f"{name} {show(value)} is not a valid value"
