"""The templates' JSON text: exactly what `json.dumps(data, indent=2, sort_keys=True,
ensure_ascii=False)` writes, in about a third of its time.

With `indent`, the standard library falls back from its C encoder to a Python one built from
nested generators; rendering spends a third of its time there. This writer is one plain
recursive function over the same types, quoting strings with the standard library's own C
function. Anything it does not handle the same way for certain (a key that is not a string, a
type other than dict, list, tuple, str, int, float, bool and None) is left to `json.dumps`, so
the text is always the standard library's; `tests/test_build_speed.py` compares the two.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # the C function when the C extension is there
from typing import Any

_INFINITY = float("inf")


class _Unsupported(Exception):
    pass


def _number(value: float) -> str:
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)


def _write(value: Any, out: list[str], newline: str) -> None:
    """Append `value`'s text; `newline` is a newline and the indent of the current level."""
    if isinstance(value, str):
        out.append(encode_basestring(value))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        separator = "{" + inner
        for key in sorted(value):
            if not isinstance(key, str):
                raise _Unsupported
            out += (separator, encode_basestring(key), ": ")
            _write(value[key], out, inner)
            separator = "," + inner
        out += (newline, "}")
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        inner = newline + "  "
        separator = "[" + inner
        for item in value:
            out.append(separator)
            _write(item, out, inner)
            separator = "," + inner
        out += (newline, "]")
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        out.append(_number(value))
    else:
        raise _Unsupported


def dumps(data: Any) -> str:
    """`json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)`, the same text."""
    out: list[str] = []
    try:
        _write(data, out, "\n")
    except (_Unsupported, RecursionError, TypeError):  # TypeError: keys that do not sort
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
    return "".join(out)
