"""The command line, one module per command group: `build` (bin/build-templates) and the
`deploy` group (bin/deploy), whose commands live in `plan` (bootstrap, plan, status),
`execute`, `review` (diff) and `operate` (destroy, services, logs, secret, cleanup). `context`
holds the group and what its commands share; `common` the exit codes and error handling.

Nothing is imported here up front: `bin/build-templates` imports `cfn.cli.build` alone, and
starts its lint process before the deploy commands' modules, the configuration's (pydantic) and
the templates' (troposphere) are imported (`cfn.build.run`). `deploy`, `build_templates` and
`run_group` are loaded at first use (the deploy group with every command registered on it)."""

from __future__ import annotations

from typing import Any

__all__ = ["build_templates", "deploy", "deploy_main", "run_group"]


def _load() -> None:
    import importlib

    # The command modules register their commands on the `deploy` group when imported (by
    # name: a `from cfn.cli import ...` would ask this module's __getattr__ again). No module
    # is named `deploy`: importing it would bind this package's `deploy` to it, not the group.
    for name in ("plan", "execute", "operate", "review"):
        importlib.import_module(f"cfn.cli.{name}")
    from cfn.cli.build import build_templates
    from cfn.cli.common import run_group
    from cfn.cli.context import deploy

    globals().update(build_templates=build_templates, run_group=run_group, deploy=deploy)


def __getattr__(name: str) -> Any:
    if name in ("build_templates", "deploy", "run_group"):
        _load()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def deploy_main() -> None:
    """`bin/deploy`: every command registered; usage errors exit 1 here, because 2 means
    "changes to review"."""
    _load()
    globals()["run_group"](globals()["deploy"])
