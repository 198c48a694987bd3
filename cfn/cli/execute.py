"""`bin/deploy execute`: run exactly the reviewed change set, follow it and each ECS service's
rollout, and end with a verdict per service (registered on the deploy group, like operate)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cfn.cli.common import EXIT_ERROR, err, handle_errors
from cfn.cli.context import DeployContext, deploy, deploy_options
from cfn.cli.follow import DEADLINE, confirmed, display, parse_deadline, report


@deploy.command()
@deploy_options
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--yes",
    is_flag=True,
    help="Do not ask for confirmation (protected environments, plans that broaden security).",
)
@DEADLINE
@handle_errors(config_exit=EXIT_ERROR)
def execute(plan_file: Path, yes: bool, deadline: str | None, **kw: Any) -> None:
    """Execute exactly the change set PLAN_FILE describes, follow it and each ECS service's
    rollout until it settles, and give a verdict per service.

    Exit status: 0 deployed and every service rolled out, 1 failed (a circuit-breaker rollback
    included), 130 interrupted. Ctrl-C stops following, not the deployment.
    """
    from cfn.deploy import execute as execute_mod
    from cfn.deploy import planfile

    seconds = parse_deadline(deadline)
    ctx = DeployContext(**kw)
    planned = planfile.read(plan_file)
    try:
        desc = confirmed(ctx, planned, plan_file, yes)
    except (KeyboardInterrupt, click.exceptions.Abort):  # Ctrl-C, also at the prompt
        raise execute_mod.not_started(planned) from None
    err(f"executing {planned.change_set_name} on {planned.stack}")
    outcome = execute_mod.run(
        ctx.clients,
        planned,
        ctx.env,
        execute_mod.changed_services(ctx.env, desc),
        display(ctx.output),
        deadline=seconds,
    )
    if outcome.protected_stacks:
        err(
            f"termination protection: on for {planned.stack}; stack policy set on "
            f"{outcome.protected_stacks} stack(s)"
        )
    report(ctx, outcome, deadline)
