"""The build: render the selected environments, compare with or write to `templates/`, lint.

`compare` names every file that differs from what the code renders (and, inside a JSON
template, the logical ids that differ); `write` replaces each environment's directory in one
rename so that a failure leaves `templates/` as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cfn.render import RenderedTemplate

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"


@dataclass(frozen=True)
class Difference:
    """A file of `templates/` that is not what the code renders."""

    path: str
    kind: str  # "differs", "missing" (the code renders it, the tree lacks it), "extra", "diagram"
    details: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        text = {
            "differs": f"{self.path}: differs from what the code renders",
            "missing": f"{self.path}: missing (the code renders it)",
            "extra": f"{self.path}: extra (the code no longer renders it)",
            "diagram": self.path,  # the problem, already phrased
        }[self.kind]
        if self.details:
            text += " (" + "; ".join(self.details) + ")"
        return text


def describe_difference(expected: str, actual: str) -> tuple[str, ...]:
    """Which sections and logical ids differ between two template texts."""
    try:
        a, b = json.loads(expected), json.loads(actual)
    except json.JSONDecodeError:
        return ("not valid JSON on disk",)
    out: list[str] = []
    for section in sorted(set(a) | set(b)):
        x, y = a.get(section), b.get(section)
        if x == y:
            continue
        if isinstance(x, dict) and isinstance(y, dict):
            for key in sorted(set(x) | set(y)):
                if key not in y:
                    out.append(f"{section}.{key} only in the code")
                elif key not in x:
                    out.append(f"{section}.{key} only on disk")
                elif x[key] != y[key]:
                    out.append(f"{section}.{key} changed")
        else:
            out.append(f"{section} changed")
    # Same data, different bytes: formatting or key order was edited by hand.
    return tuple(out) or ("formatting differs",)


def _files_on_disk(env_dir: Path) -> dict[str, str]:
    if not env_dir.is_dir():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(env_dir.glob("*.json"))}


def compare(rendered: Sequence[RenderedTemplate], out_dir: Path) -> list[Difference]:
    """Every difference between the rendered templates and those under `out_dir`."""
    diffs: list[Difference] = []
    by_env: dict[str, dict[str, str]] = {}
    for r in rendered:
        by_env.setdefault(r.env, {})[r.filename] = r.text
    for env, files in by_env.items():
        on_disk = _files_on_disk(out_dir / env)
        for name in sorted(set(files) | set(on_disk)):
            path = f"{env}/{name}"
            if name not in on_disk:
                diffs.append(Difference(path, "missing"))
            elif name not in files:
                diffs.append(Difference(path, "extra"))
            elif files[name] != on_disk[name]:
                diffs.append(
                    Difference(path, "differs", describe_difference(files[name], on_disk[name]))
                )
    return diffs


def write(rendered: Sequence[RenderedTemplate], out_dir: Path) -> list[str]:
    """Write each environment's templates; return the environments whose files changed.

    An environment's files are written to a temporary directory beside the target, which then
    replaces `<out_dir>/<env>` by rename: a crash or a full disk leaves the old tree in place.
    """
    by_env: dict[str, list[RenderedTemplate]] = {}
    for r in rendered:
        by_env.setdefault(r.env, []).append(r)
    diffs = compare(rendered, out_dir)
    changed_envs = sorted({d.path.split("/", 1)[0] for d in diffs})
    out_dir.mkdir(parents=True, exist_ok=True)
    for env in changed_envs:
        tmp = Path(tempfile.mkdtemp(prefix=f".{env}.new-", dir=out_dir))
        old: Path | None = None
        try:
            for r in by_env[env]:
                with open(tmp / r.filename, "w", encoding="utf-8", newline="\n") as fh:
                    fh.write(r.text)
            target = out_dir / env
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{env}.old-", dir=out_dir))
                os.rename(target, old / env)
            os.rename(tmp, target)
        except BaseException:
            if old is not None and not (out_dir / env).exists():
                os.rename(old / env, out_dir / env)
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    return changed_envs
