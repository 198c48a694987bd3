"""Operating an environment from `bin/deploy`: `destroy`, `services`, `logs`, `secret set|list`
and `cleanup`, registered on the `deploy` group.

Thin, like the rest of the CLI: options, one call into `cfn.deploy`, the result on stdout
(`--output json` for machines), progress on stderr, a documented exit status.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from cfn.cli.common import EXIT_ERROR, EXIT_OK, err, handle_errors
from cfn.cli.context import (
    DeployContext,
    Unreached,
    contexts,
    deploy,
    deploy_options,
    each,
    env_or_all,
)
from cfn.cli.follow import progress_printer


def _interactive() -> bool:
    """A person at a terminal, who can answer a prompt."""
    return sys.stdin.isatty()


def _confirm_destroy(env: Any, protected: bool, yes: bool, confirm_env: str | None) -> None:
    from cfn.deploy.errors import DeployError

    name = env.name
    if confirm_env is not None and confirm_env != name:
        raise DeployError(f"--confirm-env {confirm_env} does not match --env {name}")
    if not _interactive():
        if not yes:
            raise DeployError(
                f"there is no terminal to confirm the destruction of {name} in",
                "pass --yes" + (f" --confirm-env {name}" if protected else ""),
            )
        if protected and confirm_env != name:
            raise DeployError(
                f"{name} is protected: without a terminal, pass --confirm-env {name} as well"
            )
        return
    if protected and confirm_env != name:
        typed = click.prompt(f"{name} is protected. Type its name to delete it", err=True)
        if typed.strip() != name:
            err(f"{typed.strip()!r} is not {name!r}: nothing deleted")
            sys.exit(EXIT_ERROR)
    elif not (protected or yes or click.confirm(f"Delete every resource of {name}?", err=True)):
        err("nothing deleted")
        sys.exit(EXIT_ERROR)


@deploy.command()
@deploy_options
@click.option("--yes", is_flag=True, help="Do not ask (required without a terminal).")
@click.option(
    "--confirm-env",
    metavar="NAME",
    default=None,
    help="The environment's name, instead of typing it (protected environments).",
)
@click.option(
    "--lift-termination-protection",
    is_flag=True,
    help="Lift the stack's termination protection, then delete it.",
)
@handle_errors(config_exit=EXIT_ERROR)
def destroy(
    yes: bool, confirm_env: str | None, lift_termination_protection: bool, **kw: Any
) -> None:
    """Delete the environment's root stack and its nested stacks, after showing what is
    deleted and what is kept (DeletionPolicy Retain, the artifacts bucket, the secrets).

    A protected environment (or a stack with termination protection) asks for its name to be
    typed. To remove one service, remove it from the configuration and deploy instead.

    \b
    Exit status: 0 deleted, or nothing to delete; 1 refused, declined or failed.
    """
    from cfn import naming
    from cfn.deploy import destroy as destroy_mod
    from cfn.deploy.errors import Interrupted

    ctx = DeployContext(**kw)
    plan = destroy_mod.preview(ctx.clients, ctx.env)
    if plan is None:
        ctx.emit(
            f"nothing to destroy: stack {naming.root_stack(ctx.env)} does not exist",
            {"deleted": False, "exists": False},
        )
        sys.exit(EXIT_OK)
    review = destroy_mod.to_text(plan)
    click.echo(review, err=ctx.output == "json")
    destroy_mod.check_protection(plan, lift_termination_protection)
    protected = ctx.env.protected or plan.termination_protection
    _confirm_destroy(ctx.env, protected, yes, confirm_env)
    err(f"deleting {plan.stack}")
    try:
        final = destroy_mod.run(
            ctx.clients,
            ctx.env,
            plan,
            lift_termination_protection=lift_termination_protection,
            on_event=progress_printer(),
        )
    except KeyboardInterrupt:
        raise Interrupted(
            "stopped following; the deletion goes on in CloudFormation. Look again with: "
            f"bin/deploy status --env {ctx.env.name}"
        ) from None
    ctx.emit(f"{plan.stack}: {final}", {**plan.to_dict(), "final_status": final})


@deploy.command()
@env_or_all
@handle_errors(config_exit=EXIT_ERROR)
def services(all_envs: bool, env_name: str | None, **kw: Any) -> None:
    """One line per service: image tag, tasks desired/running/pending, rollout state of the
    latest deployment, healthy/unhealthy targets, URL paths, discovery name. --all: every
    environment, each read with its own credentials (profile, deploy role, account); one that
    cannot be reached is one line `ENV: not reached: why`, and the others are still shown.

    \b
    Exit status: 0 every service deployed, no failed rollout, no unhealthy target (with --all:
    and every environment reached); 1 otherwise.
    """
    from cfn.deploy import services as services_mod

    ctxs = contexts(env_name, all_envs, **kw)
    if not all_envs:
        states = services_mod.run(ctxs[0].clients, ctxs[0].env)
        ctxs[0].emit(
            services_mod.to_text(states, with_env=False),
            {"services": [s.to_dict() for s in states]},
        )
        sys.exit(EXIT_OK if all(s.ok for s in states) else EXIT_ERROR)
    found = each(ctxs, lambda c: services_mod.run(c.clients, c.env))
    states = [s for r in found if not isinstance(r, Unreached) for s in r]
    unreached = [r for r in found if isinstance(r, Unreached)]
    environments = [
        r.to_dict()
        if isinstance(r, Unreached)
        else {"environment": c.env.name, "reachable": True, "error": None}
        for c, r in zip(ctxs, found, strict=True)
    ]
    ctxs[0].emit(
        "\n".join([services_mod.to_text(states, with_env=True), *(u.line() for u in unreached)]),
        {"services": [s.to_dict() for s in states], "environments": environments},
    )
    sys.exit(EXIT_OK if not unreached and all(s.ok for s in states) else EXIT_ERROR)


@deploy.command()
@deploy_options
@click.argument("service")
@click.option(
    "--since", default="10m", show_default=True, metavar="DURATION", help="90s, 10m, 2h, 7d"
)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.option(
    "--filter",
    "pattern",
    default=None,
    metavar="TEXT",
    help="A CloudWatch Logs filter pattern, e.g. ERROR or '\"request id\"'.",
)
@handle_errors(config_exit=EXIT_ERROR)
def logs(service: str, since: str, follow: bool, pattern: str | None, **kw: Any) -> None:
    """The SERVICE's log lines since --since, newest last, each with its time (UTC) and task id.
    --output json prints one JSON object per line.

    \b
    Exit status: 0 (also when Ctrl-C ends --follow), 1 error (unknown service, no log group).
    """
    from cfn import naming
    from cfn.deploy import logs as logs_mod
    from cfn.deploy.timeutil import now, parse_duration

    ctx = DeployContext(**kw)
    svc = logs_mod.service_of(ctx.env, service)
    start_ms = int((now() - parse_duration(since, "--since")).timestamp() * 1000)
    client = ctx.clients.logs
    arn = logs_mod.log_group_arn(client, ctx.env, svc)
    group = naming.log_group(ctx.env, svc)

    def show(line: Any) -> None:
        click.echo(json.dumps(line.to_dict()) if ctx.output == "json" else line.text())

    try:
        lines = logs_mod.history(client, group, start_ms, pattern)
        for line in lines:
            show(line)
        if follow:
            err(f"following {group} (Ctrl-C stops)")
            logs_mod.follow(
                client,
                group=group,
                arn=arn,
                start_ms=start_ms,
                pattern=pattern,
                already=lines,
                on_line=show,
                progress=err,
            )
    except KeyboardInterrupt:
        err("stopped following")
        sys.exit(EXIT_OK)


@deploy.group()
def secret() -> None:
    """Set and list the services' secrets (Secrets Manager; values are never printed)."""


def _read_value(name: str) -> str:
    if _interactive():
        return click.prompt(f"Value of {name}", hide_input=True, confirmation_prompt=True, err=True)
    data = sys.stdin.read()
    return data.removesuffix("\n").removesuffix("\r")


@secret.command("set")
@deploy_options
@click.argument("service")
@click.argument("name")
@handle_errors(config_exit=EXIT_ERROR)
def secret_set(service: str, name: str, **kw: Any) -> None:
    """Create or update the secret NAME of SERVICE, as <project>/<env>/<service>/<NAME>.

    The value is read from a hidden prompt (twice), or from stdin when it is not a terminal:
    never from an argument, never printed. NAME must be one the service declares.

    \b
    Exit status: 0 stored, 1 refused or error.
    """
    from cfn.deploy import secrets as secrets_mod

    ctx = DeployContext(**kw)
    _svc, secret_name = secrets_mod.declared_secret(ctx.env, service, name)
    value = _read_value(secret_name)
    result = secrets_mod.set_value(ctx.clients.secretsmanager, ctx.env, service, name, value)
    del value
    ctx.emit(
        f"{result.name}: {'created' if result.created else 'updated (new version)'}\n"
        f"read by: {', '.join(result.read_by)} (as {name}) when a task starts; running tasks "
        f"keep the old value until replaced (the next deploy, or aws ecs update-service "
        f"--force-new-deployment)",
        result.to_dict(),
    )


@secret.command("list")
@deploy_options
@handle_errors(config_exit=EXIT_ERROR)
def secret_list(**kw: Any) -> None:
    """Each secret the configuration declares: whether it exists and when it last changed.

    \b
    Exit status: 0 all exist, 1 some are missing (plan would refuse) or error.
    """
    from cfn.deploy import secrets as secrets_mod

    ctx = DeployContext(**kw)
    states = secrets_mod.list_declared(ctx.clients.secretsmanager, ctx.env)
    ctx.emit(secrets_mod.list_text(states, ctx.env), {"secrets": [s.to_dict() for s in states]})
    sys.exit(EXIT_OK if all(s.exists for s in states) else EXIT_ERROR)


@deploy.command()
@deploy_options
@click.option(
    "--older-than",
    default="7d",
    show_default=True,
    metavar="DURATION",
    help="Only change sets created longer ago (0s: all).",
)
@handle_errors(config_exit=EXIT_ERROR)
def cleanup(older_than: str, **kw: Any) -> None:
    """Delete this environment's change sets that were never executed (waiting or failed),
    created more than --older-than ago. Root stack only: nested change sets go with them.

    \b
    Exit status: 0 (also when there was nothing to delete), 1 error.
    """
    from cfn.deploy import cleanup as cleanup_mod
    from cfn.deploy.timeutil import parse_duration

    ctx = DeployContext(**kw)
    age = parse_duration(older_than, "--older-than")
    result = cleanup_mod.run(ctx.clients.cloudformation, ctx.env, age, older_than)
    ctx.emit(cleanup_mod.to_text(result, ctx.env), result.to_dict())
