"""What every `bin/deploy` command shares: the `deploy` click group, the common options, and
the context (environment, output, AWS clients made on first use).

Command modules (`deploy`, `execute`, `review`, `operate`) add their commands to the group;
`cfn.cli.deploy_main` imports them all and runs it. Nothing here imports a command module, so
the command modules depend on this one and never on each other.

`--all` (`contexts`, `each`): every environment with its own credentials, as its own context
makes them (its profile, its deploy role, its account checked); an environment that cannot be
reached is one `Unreached` line, and the others are still read.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from cfn import config as config_mod
from cfn.cli.common import F, err


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
        if region and region != self.env.region:
            # The templates are rendered for the configured region (AZs, ELB log delivery),
            # and IAM names are global: a second region would collide, half-made.
            raise click.BadParameter(
                f"{region} is not environment {env_name}'s region ({self.env.region}, from the "
                "configuration); drop --region, or change the region in the configuration",
                param_hint="'--region'",
            )
        self.region = self.env.region
        # --profile wins; else the environment's own profile; else the usual chain.
        self.profile = profile or self.env.profile or None
        self.endpoint_url = endpoint_url
        self.output = output
        self._clients: Any = None
        # Clients made by another context for the same credentials and account (`--all`).
        self._shared: dict[tuple[Any, ...], Any] | None = None

    @property
    def clients(self) -> Any:
        if self._clients is None:
            from cfn.deploy.aws import make_clients

            key = (self.region, self.profile, self.env.account_id, self.env.deploy_role_arn)
            if self._shared is not None and key in self._shared:
                self._clients = self._shared[key]
                return self._clients
            self._clients = make_clients(
                self.region, self.profile, self.endpoint_url, progress=err, account=self.account
            )
            if self._shared is not None:
                self._shared[key] = self._clients
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
            help="AWS region; must be the environment's, from the config (the default).",
        ),
        click.option(
            "--profile",
            default=None,
            help="AWS profile. Default: the environment's `profile` from the config, else the "
            "usual chain.",
        ),
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
    """One context per environment asked for. Clients are made on first use, by each
    environment with its own credentials; environments in one region and account (same
    profile and role) share them."""
    if bool(env_name) == all_envs:
        raise click.UsageError("give either --env NAME or --all")
    if env_name:
        return [DeployContext(env_name=env_name, **kw)]
    names = list(config_mod.load(kw.get("config_path")).environments)
    out = [DeployContext(env_name=name, **kw) for name in names]
    shared: dict[tuple[Any, ...], Any] = {}
    for ctx in out:
        ctx._shared = shared
    return out


@dataclass(frozen=True)
class Unreached:
    """An environment `--all` could not read: no credentials, another account, a role that
    cannot be assumed, access denied, an endpoint that does not answer."""

    environment: str
    error: str  # one line: what, and how to fix it

    def line(self) -> str:
        return f"{self.environment}: not reached: {self.error}"

    def to_dict(self) -> dict[str, Any]:
        return {"environment": self.environment, "reachable": False, "error": self.error}


T = TypeVar("T")


def each(ctxs: list[DeployContext], read: Callable[[DeployContext], T]) -> list[T | Unreached]:
    """`read` of every context, in order; an environment whose credentials, account or
    permissions fail is an `Unreached`, and the next one is read. Anything else (a bug) is
    raised."""
    found: list[T | Unreached] = []
    for ctx in ctxs:
        try:
            found.append(read(ctx))
        except Exception as exc:
            reason = _reason(exc)
            if reason is None:
                raise
            found.append(Unreached(ctx.env.name, reason))
    return found


def _reason(exc: Exception) -> str | None:
    """One line for the errors a user meets reaching an environment; None for anything else."""
    from cfn.deploy.errors import DeployError

    known: DeployError | None = exc if isinstance(exc, DeployError) else None
    if known is None and "botocore" in sys.modules:
        from cfn.deploy.aws import explain

        known = explain(exc)
    if known is None:
        return None
    # The hint after a semicolon: it often holds parentheses of its own.
    return known.message + (f"; {known.hint}" if known.hint else "")
