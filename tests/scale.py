"""Made-up platforms of any size, shaped like the real one, for the benchmark and scale tests.

`with_services(raw, n)` replaces the catalogue of a configuration (as parsed TOML) with `n`
services like ours: one in three has a secret, every service after the first depends on the
first (discovery URLs), and each gets its own port, path and listener priority.
"""

from __future__ import annotations

import copy
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
