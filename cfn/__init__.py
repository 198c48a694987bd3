"""InsightXI platform infrastructure: CloudFormation templates built with troposphere and awacs."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

# Third-party packages the commands need; a missing one gets a message, not a traceback.
DEPENDENCIES = {"troposphere", "awacs", "cfnlint", "boto3", "botocore", "click", "pydantic", "yaml"}
# Optional: only bin/local-aws needs them (the `local` extra).
LOCAL_DEPENDENCIES = {"moto", "werkzeug", "flask"}


def open_standard_streams() -> None:
    """A standard stream the command was started without (`>&-`) becomes /dev/null, as if it had
    been redirected there: its output is discarded, the exit status still says the result (and
    nothing fails on writing to a stream Python could not open)."""
    import os

    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            # The lowest free descriptor: the closed one itself, 0, 1 and 2 taken in order.
            setattr(sys, name, open(os.devnull, mode))  # noqa: SIM115  # for the whole run


def run_entry(module: str, function: str) -> None:
    """Run `module.function()` for a bin/ script; say how to install what is missing."""
    try:
        getattr(importlib.import_module(module), function)()
    except KeyboardInterrupt:
        # Ctrl-C while the command is still loading (the commands handle it once running).
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top not in DEPENDENCIES | LOCAL_DEPENDENCIES:
            raise
        extra = "local" if top in LOCAL_DEPENDENCIES else "test"
        root = Path(__file__).resolve().parent.parent
        sys.exit(
            f"error: the Python package {exc.name!r} is not installed for {sys.executable}\n"
            f"  install the project first: cd {root} && python -m pip install -e '.[{extra}]'"
        )
