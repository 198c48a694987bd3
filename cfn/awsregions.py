"""The AWS regions a configuration may name: those botocore's endpoint data lists for ECS.

Read from botocore's `endpoints.json` without importing botocore (`botocore.session` costs about
half a second, which every build would pay while validating the configuration); the answer is
the one `botocore.session` gives, which `tests/test_build_speed.py` checks.
"""

from __future__ import annotations

import functools
import json
import os
from importlib.util import find_spec
from pathlib import Path


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region botocore's endpoint data lists for ECS, in every partition (what
    `botocore.session`'s `get_available_regions("ecs", partition)` answers for each)."""
    spec = find_spec("botocore")
    data = Path(spec.origin).parent / "data" / "endpoints.json" if spec and spec.origin else None
    # botocore reads endpoint data from ~/.aws/models or $AWS_DATA_PATH before its own: ask it.
    custom = os.environ.get("AWS_DATA_PATH") or Path("~/.aws/models").expanduser().is_dir()
    if custom or data is None or not data.is_file():
        return regions_from_botocore()
    partitions = json.loads(data.read_text(encoding="utf-8"))["partitions"]
    return frozenset(
        name
        for p in partitions
        for name in p["services"].get("ecs", {}).get("endpoints", {})
        if name in p["regions"]
    )


def regions_from_botocore() -> frozenset[str]:
    """The same, asked of botocore itself."""
    import botocore.session

    session = botocore.session.get_session()
    return frozenset(
        r
        for p in session.get_available_partitions()
        for r in session.get_available_regions("ecs", p)
    )
