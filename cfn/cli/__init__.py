"""The command line, one module per command group: `build` (bin/build-templates) and `deploy`
(bin/deploy). `common` holds what they share (exit codes, error handling)."""

# execute and operate (destroy, services, logs, secret, cleanup) add to the deploy group.
from cfn.cli import execute, operate  # noqa: F401
from cfn.cli.build import build_templates
from cfn.cli.deploy import deploy, deploy_main

__all__ = ["build_templates", "deploy", "deploy_main"]
