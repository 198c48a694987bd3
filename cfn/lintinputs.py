"""What cfn-lint's findings depend on outside the templates and the rules, found without importing
cfn-lint (which costs about half a second): its resource-schema data and the `.cfnlintrc` files
it reads. The lint cache (`cfn.lint`) and the no-change record (`cfn.fastbuild`) key on them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CFNLINTRC_NAMES = (".cfnlintrc", ".cfnlintrc.yaml", ".cfnlintrc.yml")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def schema_stamp() -> str:
    """Which resource schemas cfn-lint validates against, without importing it.

    cfn-lint ships schemas in `cfnlint/data/schemas` and `cfn-lint --update-specs` downloads
    newer ones to its cache directory (it uses whichever `version.json` is newer); both
    `version.json` files and the modification times of both provider directories go in.
    """
    from importlib.util import find_spec

    spec = find_spec("cfnlint")
    if spec is None or spec.origin is None:
        return "cfn-lint: not installed"
    bundled = Path(spec.origin).parent / "data" / "schemas"
    # cfn-lint's own choice of cache directory (cfnlint.helpers.get_cache_dir) on Linux and macOS.
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    if sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    downloaded = Path(base) / "aws" / "cfn-lint" / "schemas"
    parts = []
    for directory in (bundled, downloaded):
        providers = directory / "providers"
        stamp = providers.stat().st_mtime_ns if providers.is_dir() else 0
        parts.append(f"{directory}:{_read(directory / 'version.json')}:{stamp}")
    return "\n".join(parts)


def cfnlintrc_files() -> list[Path]:
    """The `.cfnlintrc` files cfn-lint would read (the user's and the working directory's),
    whether they exist or not."""
    return [Path.home() / n for n in CFNLINTRC_NAMES] + [Path.cwd() / n for n in CFNLINTRC_NAMES]


def cfnlintrc() -> str:
    """The `.cfnlintrc` files that exist, with their text."""
    return "\n".join(f"{p}:{_read(p)}" for p in cfnlintrc_files() if p.is_file())
