"""The command line, one module per command group: `build` (bin/build-templates) and the
`deploy` group (bin/deploy), whose commands live in `deploy` (bootstrap, plan, status),
`execute`, `review` (diff) and `operate` (destroy, services, logs, secret, cleanup). `context`
holds the group and what its commands share; `common` the exit codes and error handling."""

# The command modules register their commands on the `deploy` group when imported.
from cfn.cli import deploy as _deploy  # noqa: F401
from cfn.cli import execute as _execute  # noqa: F401
from cfn.cli import operate as _operate  # noqa: F401
from cfn.cli import review as _review  # noqa: F401
from cfn.cli.build import build_templates
from cfn.cli.common import run_group
from cfn.cli.context import deploy


def deploy_main() -> None:
    """`bin/deploy`: every command registered; usage errors exit 1 here, because 2 means
    "changes to review"."""
    run_group(deploy)


__all__ = ["build_templates", "deploy", "deploy_main"]
