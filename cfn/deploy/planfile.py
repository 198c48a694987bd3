"""The plan file: what `plan` reviewed, typed and versioned, so that `execute` runs exactly that.

A `Plan` is a frozen pydantic model written as sorted JSON. `read` turns every way a file can be
wrong (missing, not JSON, another version, a missing or mistyped field) into one `DeployError`
line that says what to do, never a `KeyError` or a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cfn.deploy.errors import DeployError
from cfn.fsutil import atomic_write

PLAN_VERSION = 2


class TemplateArtifact(BaseModel):
    """Where one uploaded template lives in the artifacts bucket."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    sha256: str


class Plan(BaseModel):
    """One reviewed change set of one environment, and the stack state it was made against."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[2] = PLAN_VERSION
    environment: str
    account: str
    region: str
    stack: str
    stack_id: str
    change_set_id: str
    change_set_name: str
    change_set_type: Literal["CREATE", "UPDATE"]
    # What `execute` compares: the stack must not have moved since.
    stack_status: str | None
    stack_last_updated: str | None
    artifacts_bucket: str
    templates: dict[str, TemplateArtifact]
    # Root parameters as planned: {"name": {"value": ...}} or {"name": {"previous": true}}.
    parameters: dict[str, dict[str, Any]]
    change_count: int
    created_at: str
    # Security broadenings the review found (each a one-line description): execute asks for
    # explicit confirmation when there are any.
    broadening: tuple[str, ...] = ()
    # Logical ids the plan was explicitly allowed to replace (protected environments).
    allow_replace: tuple[str, ...] = ()
    # Set when a later plan of the same environment found no changes: nothing to execute.
    spent: bool = Field(default=False)


def write(path: Path, plan: Plan) -> None:
    atomic_write(path, json.dumps(plan.model_dump(mode="json"), indent=2, sort_keys=True) + "\n")


def read(path: Path) -> Plan:
    """The plan in `path`, or a `DeployError` saying what is wrong with the file."""
    again = "make a new one: bin/deploy plan --env ENV"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeployError(f"plan file {path} not found", "run bin/deploy plan first") from None
    except IsADirectoryError:
        raise DeployError(f"plan file {path} is a directory", again) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DeployError(f"plan file {path} is not valid JSON ({exc})", again) from None
    except OSError as exc:
        raise DeployError(f"plan file {path} cannot be read: {exc.strerror}") from None
    if not isinstance(data, dict):
        raise DeployError(f"plan file {path} is not a plan (a JSON object)", again)
    if data.get("version") != PLAN_VERSION:
        raise DeployError(
            f"plan file {path} has version {data.get('version')!r}; this tool reads version "
            f"{PLAN_VERSION}",
            again,
        )
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        fields = sorted({".".join(map(str, e["loc"])) or "(top level)" for e in exc.errors()})
        raise DeployError(
            f"plan file {path} is not a valid plan (check: {', '.join(fields)})", again
        ) from None


def mark_spent(paths: Iterable[Path], environment: str) -> list[Path]:
    """Mark the plan files among `paths` that belong to `environment` as spent (a later plan
    found no changes, so there is nothing to execute); return those marked.

    A path that is missing or not a readable plan of this environment is left as it is.
    """
    marked = []
    for path in dict.fromkeys(paths):
        if not path.is_file():
            continue
        try:
            old = read(path)
        except DeployError:
            continue
        if old.environment == environment and not old.spent:
            write(path, old.model_copy(update={"spent": True}))
            marked.append(path)
    return marked
