"""The project's paths, from one place: the checkout, its generated trees and its caches.

The caches (lint findings, the no-change build record) live under `.cache/` of the checkout
unless `INSIGHTXI_CACHE_DIR` names another directory; the tests point it at a temporary one so
that no test reads what an earlier run left behind. Read at call time, not import time, so a
changed variable takes effect in the same process.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
CONFIG_PATH = PACKAGE_DIR / "insightxi.toml"
RULES_DIR = PACKAGE_DIR / "rules"
TEMPLATES_DIR = PROJECT_ROOT / "templates"
DOCS_DIR = PROJECT_ROOT / "docs" / "architecture"
README = PROJECT_ROOT / "README.md"
CACHE_ENV = "INSIGHTXI_CACHE_DIR"


def cache_dir() -> Path:
    """Where the caches live: `$INSIGHTXI_CACHE_DIR`, else `.cache/` of the checkout."""
    return Path(os.environ.get(CACHE_ENV) or PROJECT_ROOT / ".cache")


def lint_cache_dir() -> Path:
    return cache_dir() / "lint"


def build_record_dir() -> Path:
    return cache_dir() / "build"
