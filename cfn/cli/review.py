"""The review's side of `bin/deploy`: the read-only `diff` command, the answer of a plan that
finds no changes (older plan files marked spent), and the confirmation `execute` asks before a
plan that broadens security.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from cfn.cli.common import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, err, handle_errors
from cfn.cli.context import DeployContext, deploy, deploy_options
from cfn.fsutil import atomic_write


def no_changes(
    ctx: DeployContext, result: Any, older_plans: list[Path], summary_md: Path | None
) -> None:
    """Report a plan with nothing to change, mark older plan files spent, exit 0."""
    from cfn import naming
    from cfn.deploy import planfile

    stack = naming.root_stack(ctx.env)
    text = f"no changes: {stack} already matches the templates"
    if result.no_ops:
        text += (
            f" ({len(result.no_ops)} Dynamic evaluation(s) that change nothing: "
            + ", ".join(c.where for c in result.no_ops)
            + ")"
        )
    for path in planfile.mark_spent(older_plans, ctx.env.name):
        err(f"{path}: marked spent (nothing to execute)")
    ctx.emit(
        text,
        {
            "changes": None,
            "no_changes": True,
            "no_ops": [c.where for c in result.no_ops],
        },
    )
    if summary_md:
        atomic_write(summary_md, f"No changes for `{stack}`.\n")
    sys.exit(EXIT_OK)


def confirm(ctx: DeployContext, planned: Any, yes: bool) -> None:
    """Ask before executing: in protected environments, and in every environment when the plan
    broadens security. `--yes` answers; without a terminal, refuse."""
    from cfn.deploy.errors import DeployError

    broadens = bool(planned.broadening)
    if yes or not (ctx.env.protected or broadens):
        return
    why = "the plan broadens security" if broadens else f"{ctx.env.name} is protected"
    if not sys.stdin.isatty():
        raise DeployError(
            f"{why} and there is no terminal to confirm in",
            "run it in a terminal, or pass --yes once the review is approved",
        )
    if broadens:
        err(f"This plan broadens security ({len(planned.broadening)}):")
        for b in planned.broadening:
            err(f"  ! {b}")
    if not click.confirm(
        f"Execute change set {planned.change_set_name} "
        f"({planned.change_count} changes{', broadening security' if broadens else ''}) on "
        f"{planned.stack} in account {planned.account}?",
        err=True,
    ):
        err("not executed")
        sys.exit(EXIT_ERROR)


@deploy.command()
@deploy_options
@click.option(
    "--image-tag",
    "image_tags",
    multiple=True,
    metavar="SERVICE=TAG",
    help="Also compare a service's deployed image tag with this one (repeatable).",
)
@handle_errors(config_exit=EXIT_ERROR)
def diff(image_tags: tuple[str, ...], **kw: Any) -> None:
    """Compare the committed templates and parameters with the deployed stacks, read-only.

    Nothing is uploaded and no change set is made (GetTemplate per stack, root and nested).
    Exit status: 0 the same, 2 different, 1 error.
    """
    from cfn import build
    from cfn.deploy import diff as diff_mod
    from cfn.deploy import plan as plan_mod

    ctx = DeployContext(**kw)
    tags = plan_mod.parse_image_tags(ctx.env, image_tags)
    result = diff_mod.run(
        ctx.clients.cloudformation, ctx.env, templates_dir=build.TEMPLATES_DIR, image_tags=tags
    )
    ctx.emit(result.to_text(), result.to_dict())
    sys.exit(EXIT_OK if result.same else EXIT_CHANGES)
