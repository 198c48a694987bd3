"""`deploy`: bootstrap, plan, execute and status of an environment through reviewed change sets.

Thin: parse the options, call one function of `cfn.deploy`, print its result, choose the exit
code. Usage errors exit 1 here, because 2 means "a change set is waiting for review".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from cfn import config as config_mod
from cfn.cli.common import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, F, err, handle_errors, run_group
from cfn.cli.follow import (
    DEADLINE,
    follow_in_progress,
    parse_deadline,
    progress_printer,
)
from cfn.fsutil import atomic_write


class DeployContext:
    """What every deploy command shares: the environment and, made on first use, the clients."""

    def __init__(
        self,
        env_name: str,
        region: str | None,
        profile: str | None,
        endpoint_url: str | None,
        output: str,
        config_path: Path | None,
    ) -> None:
        platform = config_mod.load(config_path)
        if env_name not in platform.environments:
            raise click.BadParameter(
                f"unknown environment {env_name!r}; known: {', '.join(platform.environments)}",
                param_hint="'--env'",
            )
        self.env = platform.env(env_name)
        self.region = region or self.env.region
        # --profile wins; else the environment's own profile; else the usual chain.
        self.profile = profile or self.env.profile or None
        self.endpoint_url = endpoint_url
        self.output = output
        self._clients: Any = None

    @property
    def clients(self) -> Any:
        if self._clients is None:
            from cfn.deploy.aws import make_clients

            self._clients = make_clients(
                self.region, self.profile, self.endpoint_url, progress=err, account=self.account
            )
        return self._clients

    @property
    def account(self) -> Any:
        """The environment's account and deploy role, checked before any other AWS call."""
        from cfn.deploy.aws import Account

        return Account(self.env.name, self.env.account_id, self.env.deploy_role_arn)

    def emit(self, text: str, data: dict[str, Any]) -> None:
        """The result: text for people or JSON for machines, on stdout."""
        click.echo(json.dumps(data, indent=2, default=str) if self.output == "json" else text)


def deploy_options(fn: F) -> F:
    """The options every deploy command takes."""
    options = [
        click.option(
            "--env",
            "env_name",
            required=True,
            metavar="NAME",
            help="Environment (dev, staging, prod).",
        ),
        click.option(
            "--region",
            default=None,
            help="AWS region. Default: the environment's, from the config.",
        ),
        click.option("--profile", default=None, help="AWS profile (else the usual chain)."),
        click.option(
            "--endpoint-url",
            default=None,
            metavar="URL",
            help="Send every AWS call here (an emulator, e.g. http://localhost:5000).",
        ),
        click.option(
            "--output",
            "output",
            type=click.Choice(["text", "json"]),
            default="text",
            show_default=True,
            help="Result format on stdout.",
        ),
        click.option(
            "--config",
            "config_path",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Configuration file. Default: cfn/insightxi.toml.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.group(
    "deploy",
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Every command takes --env, --region, --profile, --endpoint-url and --output.",
)
def deploy() -> None:
    """Deploy an environment through a reviewed CloudFormation change set.

    \b
    bootstrap  create or update the artifacts bucket and CloudFormation's role (once per env)
    plan       upload the templates, create the change set, print the review
    execute    execute exactly the reviewed change set and follow it
    diff       compare the committed templates with the deployed stacks (read-only)
    status     the stack's status, image tags, outputs and waiting change sets
    services   each service's tag, tasks, rollout and target health
    logs       a service's log lines, or follow them
    secret     set and list the services' secrets (values never printed)
    cleanup    delete old change sets nobody executed
    destroy    delete the environment's stack, after a review
    """


@deploy.command()
@deploy_options
@handle_errors(config_exit=EXIT_ERROR)
def bootstrap(**kw: Any) -> None:
    """Create or update the <project>-<env>-bootstrap stack: the artifacts bucket, the
    CloudFormation service role and the deployer policy (needs IAM rights)."""
    from cfn.deploy import bootstrap as bootstrap_mod

    ctx = DeployContext(**kw)
    result = bootstrap_mod.run(ctx.clients.cloudformation, ctx.env, on_event=progress_printer())
    what = "created or updated" if result.changed else "no changes"
    ctx.emit(
        f"{result.stack}: {what} ({result.status})\nartifacts bucket: {result.bucket}",
        {
            "stack": result.stack,
            "bucket": result.bucket,
            "changed": result.changed,
            "status": result.status,
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
    metavar="LOGICAL_ID",
    help="Protected environments: let this change set replace or remove this stateful "
    "resource (repeatable; recorded in the plan file, shown in the review).",
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
    if summary_md:
        atomic_write(summary_md, review.to_markdown(result.review))
        err(f"review written to {summary_md}")
    ctx.emit(review.to_text(result.review), {"no_changes": False, **result.review.to_dict()})
    sys.exit(EXIT_CHANGES)


def env_or_all(fn: F) -> F:
    """`deploy_options` with `--env` optional and `--all`: every environment, in config order."""
    fn = click.option(
        "--all",
        "all_envs",
        is_flag=True,
        help="Every environment of the configuration, one screen (instead of --env).",
    )(fn)
    fn = deploy_options(fn)
    for param in fn.__click_params__:  # type: ignore[attr-defined]
        if param.name == "env_name":
            param.required = False
            param.help = "Environment (dev, staging, prod); or --all."
    return fn


def contexts(env_name: str | None, all_envs: bool, **kw: Any) -> list[DeployContext]:
    """One context per environment asked for; environments in one region and account (same
    profile and role) share clients."""
    if bool(env_name) == all_envs:
        raise click.UsageError("give either --env NAME or --all")
    if env_name:
        return [DeployContext(env_name=env_name, **kw)]
    names = list(config_mod.load(kw.get("config_path")).environments)
    out = [DeployContext(env_name=name, **kw) for name in names]
    shared: dict[tuple[Any, ...], Any] = {}
    for ctx in out:
        key = (ctx.region, ctx.profile, ctx.account.account_id, ctx.account.role_arn)
        if key not in shared:
            shared[key] = ctx.clients
        ctx._clients = shared[key]
    return out


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
    this environment's waiting change sets. --all: one line per environment. --watch: first
    follow the operation in progress, as execute does.

    \b
    Exit status: 0 deployed (with --all: every environment), 1 not deployed yet or error (with
    --watch: or the deployment followed failed), 130 interrupted.
    """
    from cfn.deploy import status as status_mod

    seconds = parse_deadline(deadline)
    if watch and all_envs:
        raise click.UsageError("--watch follows one environment: give --env NAME")
    ctxs = contexts(env_name, all_envs, **kw)
    if watch:
        follow_in_progress(ctxs[0], seconds, deadline)
    results = [status_mod.run(c.clients.cloudformation, c.env) for c in ctxs]
    if all_envs:
        ctxs[0].emit(
            status_mod.overview_text(results), {"environments": [r.to_dict() for r in results]}
        )
    elif watch and ctxs[0].output == "json":  # after JSON lines: one more line, not a block
        click.echo(json.dumps({"type": "status", **results[0].to_dict()}, default=str))
    else:
        ctxs[0].emit(status_mod.to_text(results[0], ctxs[0].env), results[0].to_dict())
    sys.exit(EXIT_OK if all(r.deployed for r in results) else EXIT_ERROR)


# The review's own pieces: the `diff` command, and what plan and execute ask and say about it.
from cfn.cli import review as _review  # noqa: E402,F401


def deploy_main() -> None:
    """Run `deploy`; usage errors exit 1 here, because 2 means "changes to review"."""
    run_group(deploy)
