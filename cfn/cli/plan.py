"""`deploy bootstrap`, `deploy plan` and `deploy status`: an environment's roles, its reviewed
change sets and its stacks' state (`execute` is in `cfn.cli.execute`).

Thin: parse the options, call one function of `cfn.deploy`, print its result, choose the exit
code. Usage errors exit 1 here, because 2 means "a change set is waiting for review".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from cfn.cli.common import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, err, handle_errors
from cfn.cli.context import (
    DeployContext,
    Unreached,
    contexts,
    deploy,
    deploy_options,
    each,
    env_or_all,
)
from cfn.cli.follow import (
    DEADLINE,
    follow_in_progress,
    parse_deadline,
    progress_printer,
)
from cfn.deploy.errors import DeployError
from cfn.fsutil import WriteError, atomic_write


@deploy.command()
@deploy_options
@handle_errors(config_exit=EXIT_ERROR)
def bootstrap(**kw: Any) -> None:
    """Create or update the <project>-<env>-bootstrap stack: the artifacts bucket, the
    CloudFormation service role, the deployer policy and the permissions boundary every role
    of the stacks carries (needs IAM rights). Run it before the first plan after an upgrade
    that changes them: plan says so."""
    from cfn.deploy import bootstrap as bootstrap_mod

    ctx = DeployContext(**kw)
    result = bootstrap_mod.run(ctx.clients.cloudformation, ctx.env, on_event=progress_printer())
    what = "created or updated" if result.changed else "no changes"
    ctx.emit(
        f"{result.stack}: {what} ({result.status})\nartifacts bucket: {result.bucket}\n"
        f"permissions boundary: {result.boundary or '-'}",
        {
            "stack": result.stack,
            "bucket": result.bucket,
            "changed": result.changed,
            "status": result.status,
            "boundary": result.boundary,
        },
    )


@deploy.command()
@deploy_options
@click.option(
    "--image-tag",
    "image_tags",
    multiple=True,
    metavar="SERVICE=TAG",
    help="Image tag of a service (repeatable). Required for every service on the "
    "first deploy; on later ones, services not named keep their tag.",
)
@click.option(
    "--plan-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Plan file for execute. Default: plans/<stack>.json",
)
@click.option(
    "--summary-md",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the review as Markdown (for a pull request).",
)
@click.option(
    "--no-drift",
    is_flag=True,
    help="Do not detect drift first (faster; the review then cannot say what a change would "
    "overwrite).",
)
@click.option(
    "--revert-drift",
    is_flag=True,
    help="Make a drift-aware change set (DeploymentMode=REVERT_DRIFT): it also puts back what "
    "was changed outside CloudFormation.",
)
@click.option(
    "--skip-image-check",
    is_flag=True,
    help="Do not check that each image tag exists in its ECR repository.",
)
@click.option(
    "--skip-secret-check",
    is_flag=True,
    help="Do not check that each secret exists and is not scheduled for deletion.",
)
@click.option(
    "--allow-replace",
    "allow_replace",
    multiple=True,
    metavar="STACK/LOGICAL_ID",
    help="Protected environments: let this change set replace or remove this stateful "
    "resource, named as the review prints it (SportmonksService/LogGroup; a root stack's "
    "resource by its logical id alone; a bare logical id only if the change set replaces one "
    "resource by it). Repeatable; recorded in the plan file, shown in the review; refused for "
    "an unprotected environment.",
)
@handle_errors(config_exit=EXIT_ERROR)
def plan(
    image_tags: tuple[str, ...],
    plan_out: Path | None,
    summary_md: Path | None,
    no_drift: bool,
    revert_drift: bool,
    skip_image_check: bool,
    skip_secret_check: bool,
    allow_replace: tuple[str, ...],
    **kw: Any,
) -> None:
    """Upload the templates, create one change set for the environment and print its review.

    Exit status: 0 no changes, 2 a change set is ready for review, 1 error (a preflight problem
    included: a missing image tag or secret), 130 interrupted (the half-made change set is
    deleted).
    """
    from cfn import build, naming
    from cfn.deploy import plan as plan_mod
    from cfn.deploy import review

    ctx = DeployContext(**kw)
    tags = plan_mod.parse_image_tags(ctx.env, image_tags)
    default_path = Path("plans") / f"{naming.root_stack(ctx.env)}.json"
    plan_path = plan_out or default_path
    result = plan_mod.run(
        ctx.clients,
        ctx.env,
        image_tags=tags,
        templates_dir=build.TEMPLATES_DIR,
        plan_path=plan_path,
        check_drift=not no_drift,
        revert_drift=revert_drift,
        progress=err,
        check_images=not skip_image_check,
        check_secrets=not skip_secret_check,
        allow_replace=allow_replace,
    )
    if result.review is None:
        from cfn.cli.review import no_changes

        no_changes(ctx, result, [default_path, plan_path], summary_md)
    # The review first: a summary file that cannot be written must not hide it.
    ctx.emit(review.to_text(result.review), {"no_changes": False, **result.review.to_dict()})
    if summary_md:
        try:
            atomic_write(summary_md, review.to_markdown(result.review))
        except WriteError as exc:
            where = "" if Path(exc.path) == summary_md else f"{exc.path}: "
            raise DeployError(
                f"cannot write the review to {summary_md} ({where}{exc.reason}); the change "
                f"set is made and waits, and the plan file {plan_path} is written",
                "execute it as usual, or run plan again with a writable --summary-md",
            ) from None
        err(f"review written to {summary_md}")
    sys.exit(EXIT_CHANGES)


@deploy.command()
@env_or_all
@click.option(
    "--watch",
    is_flag=True,
    help="Follow the operation in progress (events and ECS rollouts) until it settles.",
)
@DEADLINE
@handle_errors(config_exit=EXIT_ERROR)
def status(
    all_envs: bool, env_name: str | None, watch: bool, deadline: str | None, **kw: Any
) -> None:
    """The root stack's status and last update, image tags, protection, outputs (the URL) and
    this environment's waiting change sets. --all: one line per environment, each read with its
    own credentials (profile, deploy role, account); one that cannot be reached is one line
    `ENV: not reached: why`, and the others are still shown. --watch: first follow the
    operation in progress, as execute does.

    \b
    Exit status: 0 deployed (with --all: every environment, each reached), 1 not deployed yet
    or error (with --all: any environment not deployed or not reached; with --watch: or the
    deployment followed failed), 130 interrupted.
    """
    from cfn.deploy import status as status_mod

    seconds = parse_deadline(deadline)
    if watch and all_envs:
        raise click.UsageError("--watch follows one environment: give --env NAME")
    ctxs = contexts(env_name, all_envs, **kw)
    if all_envs:
        found = each(ctxs, lambda c: status_mod.run(c.clients.cloudformation, c.env))
        read = [r for r in found if not isinstance(r, Unreached)]
        unreached = [r for r in found if isinstance(r, Unreached)]
        ctxs[0].emit(
            "\n".join([status_mod.overview_text(read), *(u.line() for u in unreached)]),
            {
                "environments": [
                    r.to_dict()
                    if isinstance(r, Unreached)
                    else {**r.to_dict(), "reachable": True, "error": None}
                    for r in found
                ]
            },
        )
        sys.exit(EXIT_OK if not unreached and all(r.deployed for r in read) else EXIT_ERROR)
    if watch:
        follow_in_progress(ctxs[0], seconds, deadline)
    result = status_mod.run(ctxs[0].clients.cloudformation, ctxs[0].env)
    if watch and ctxs[0].output == "json":  # after JSON lines: one more line, not a block
        click.echo(json.dumps({"type": "status", **result.to_dict()}, default=str))
    else:
        ctxs[0].emit(status_mod.to_text(result, ctxs[0].env), result.to_dict())
    sys.exit(EXIT_OK if result.deployed else EXIT_ERROR)
