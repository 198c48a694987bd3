"""The project's paths, from one place: the checkout, its generated trees and its caches."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent
CONFIG_PATH = PACKAGE_DIR / "insightxi.toml"
RULES_DIR = PACKAGE_DIR / "rules"
TEMPLATES_DIR = PROJECT_ROOT / "templates"
DOCS_DIR = PROJECT_ROOT / "docs" / "architecture"
README = PROJECT_ROOT / "README.md"
CACHE_DIR = PROJECT_ROOT / ".cache"
