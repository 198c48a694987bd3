"""Made-up platforms of any size, shaped like the real one, for the benchmark and scale tests.

`with_services(raw, n)` replaces the catalogue of a configuration (as parsed TOML) with `n`
services like ours: one in three has a secret, every service after the first depends on the
first (discovery URLs), and each gets its own port, path and listener priority.
`to_toml(raw)` writes a configuration back as TOML text (for the command-line tests and the
benchmark, which run bin/build-templates on a file).
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any


def with_services(raw: dict[str, Any], n: int) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    services = []
    for i in range(n):
        name = f"svc{i:03d}"
        service: dict[str, Any] = {
            "name": f"{name}-service",
            "discovery_name": name,
            "port": 8000 + i,
            "repository": f"{name}-service",
            "health_check_path": "/health",
            "path_patterns": [f"/{name}", f"/{name}/*"],
            "listener_priority": 100 + i,
            "environment": {"BASE_URL": f"https://{name}.example.com"},
        }
        if i % 3 == 0:
            service["secrets"] = ["API_KEY"]
        if i:
            service["depends_on"] = ["svc000-service"]
        services.append(service)
    out["services"] = services
    for env in out["environments"].values():
        env["services"] = {}  # per-service overrides named the real services
    return out


def to_toml(raw: dict[str, Any]) -> str:
    """`raw` as TOML text, each top-level key with an inline value: `tomllib.loads` of it gives
    `raw` back (for the values TOML can hold: no None, no datetimes)."""
    return "\n".join(f"{_toml(k)} = {_toml(v)}" for k, v in raw.items()) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        # A JSON string is a TOML basic string, but for DEL, which TOML wants escaped.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in value.items()) + "}"
