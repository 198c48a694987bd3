"""How `bin/deploy` runs and shows a deployment: the checks before `execute` starts, stack events
and ECS rollout changes as they come (lines on stderr, or JSON lines on stdout with `--output
json`), the outcome and its exit code, and `status --watch` (an operation already under way)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cfn.cli.common import EXIT_ERROR, EXIT_OK, err

DEADLINE = click.option(
    "--deadline",
    default=None,
    metavar="DURATION",
    help="Stop following after this long (e.g. 30m); the deployment itself goes on.",
)


def progress_printer() -> Callable[[Any], None]:
    """Each event on stderr, after the count of resources settled so far in every stack.

    A count, not "n of N": the change set counts a nested stack as one change, its resources
    are only known as their events arrive."""
    done: set[str] = set()

    def on_event(event: Any) -> None:
        if (
            event.status.endswith("_COMPLETE")
            and event.resource_type != "AWS::CloudFormation::Stack"
        ):
            done.add(f"{event.stack_name}/{event.logical_id}")
        err(f"[{len(done)} done] {event.line()}")

    return on_event


def display(output: str) -> Any:
    """Stack events and rollout changes as they come: lines on stderr, or JSON lines on stdout
    with `--output json` (one object per event; the result is the last line)."""
    from cfn.deploy.execute import Display

    if output == "json":

        def as_json(item: Any) -> None:
            click.echo(json.dumps(item.to_dict(), default=str))

        return Display(on_event=as_json, on_change=as_json)
    return Display(on_event=progress_printer(), on_change=lambda change: err(change.line()))


def report(ctx: Any, outcome: Any, deadline: str | None) -> None:
    """The outcome on stdout (text or the last JSON line) and the exit code."""
    if ctx.output == "json":
        click.echo(json.dumps({"type": "result", **outcome.to_dict()}, default=str))
    else:
        lines = [f"{outcome.stack}: {outcome.status or 'still in progress'}"]
        lines += [v.line() for v in outcome.verdicts]
        click.echo("\n".join(lines))
    if outcome.status is None:
        err(
            f"error: stopped following after {deadline} (--deadline); the deployment goes on: "
            f"bin/deploy status --env {ctx.env.name} --watch"
        )
        sys.exit(EXIT_ERROR)
    if not outcome.ok:
        failed = [v for v in outcome.verdicts if not v.ok]
        first = failed[0].line() if failed else next(iter(outcome.failures), "see the events")
        err(f"error: the deployment failed ({outcome.status}): {first}")
        for line in outcome.failures:
            err(f"  - {line}")
        sys.exit(EXIT_ERROR)


def parse_deadline(text: str | None) -> float | None:
    """`30m`, `90s`, `2h` (or plain seconds) -> seconds."""
    if text is None:
        return None
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], text[-1]) if text[-1:] in units else (text, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        seconds = -1
    if seconds <= 0:
        raise click.BadParameter(
            f"{text!r} is not a duration such as 30m, 90s or 2h", param_hint="'--deadline'"
        )
    return seconds


def follow_in_progress(ctx: Any, seconds: float | None, deadline: str | None) -> None:
    """Follow the root stack's operation in progress, if there is one."""
    from cfn.deploy import execute as execute_mod
    from cfn.deploy.errors import Interrupted

    op, said = execute_mod.in_progress(ctx.clients.cloudformation, ctx.env)
    err(said)
    if op is None:
        return
    try:
        outcome = execute_mod.watch(
            ctx.clients,
            op,
            ctx.env,
            ctx.env.services,
            {},
            display(ctx.output),
            deadline=seconds,
        )
    except KeyboardInterrupt:
        raise Interrupted(
            "stopped following; the deployment goes on. Follow it again: "
            f"bin/deploy status --env {ctx.env.name} --watch"
        ) from None
    report(ctx, outcome, deadline)


def confirmed(ctx: Any, planned: Any, plan_file: Path, yes: bool) -> dict[str, Any]:
    """The change set's description once the plan is checked and, if protected, confirmed."""
    from cfn.deploy import execute as execute_mod
    from cfn.deploy.errors import DeployError

    if planned.environment != ctx.env.name:
        raise DeployError(
            f"{plan_file} is a plan for {planned.environment}, not {ctx.env.name}",
            f"use --env {planned.environment} or the right plan file",
        )
    if planned.spent:
        ctx.emit(
            "nothing to execute: the last plan found no changes",
            {"stack": planned.stack, "status": None, "nothing_to_execute": True},
        )
        sys.exit(EXIT_OK)
    desc = execute_mod.check_still_valid(ctx.clients, planned)
    from cfn.cli.review import confirm

    confirm(ctx, planned, yes)
    return desc
