"""`build-templates`: render every environment's templates and generated docs, check or write
them, lint.

Thin: parse the options into a `BuildRequest`, call `cfn.build.run`, show its `BuildResult` with
`summary.report`, choose the exit code. What a build means is decided in `cfn.build` only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cfn import build, lintfork, summary
from cfn.cli.common import EXIT_INTERRUPTED, EXIT_OK, err, handle_errors
from cfn.fsutil import WriteError, atomic_write

if TYPE_CHECKING:
    from cfn.fastbuild import Snapshot


@click.command(
    "build-templates",
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Exit status: 0 clean; 1 lint findings, --check differences, or a file that cannot "
    "be written; 2 bad usage or invalid configuration; 130 interrupted (nothing half-written). "
    "--watch: 0 when stopped with Ctrl-C.\n\n"
    "Build server: after a build that ran cfn-lint, a background process keeps the code and "
    "cfn-lint loaded, and the next builds run in a fork of it, with the same result as in a "
    "new process; it serves only while the code, the installed packages, the environment "
    "variables and the directory are those it loaded. It exits after 10 idle minutes "
    "($INSIGHTXI_BUILD_SERVER_IDLE seconds) or with --stop-server. "
    "INSIGHTXI_BUILD_SERVER=0 turns it off; it is off when $CI is set, unless "
    "INSIGHTXI_BUILD_SERVER=1.",
)
@click.option(
    "--env",
    "envs",
    multiple=True,
    metavar="NAME",
    help="Environment to build (repeatable). Default: every environment in the config.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Render in memory and compare with templates/, docs/architecture/ and the README's "
    "generated sections; name every differing, missing or extra file. Writes nothing.",
)
@click.option("--no-lint", is_flag=True, help="Skip cfn-lint and the project's rules.")
@click.option(
    "--no-cache",
    is_flag=True,
    help="Build and lint everything again: ignore (and do not update) the lint cache and the "
    "record of the last identical build (.cache/, or $INSIGHTXI_CACHE_DIR).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Configuration file. Default: cfn/insightxi.toml.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory of the rendered templates. Default: templates/ of this project. The "
    "generated docs (docs/architecture/, README sections) are only written for templates/.",
)
@click.option(
    "--output",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Format of the summary on stdout.",
)
@click.option(
    "--lint-format",
    type=click.Choice(["text", "json", "sarif", "junit", "parseable"]),
    default=None,
    help="Write the lint findings in this cfn-lint format (for CI systems), to stdout or "
    "--lint-out; the summary then goes to stderr.",
)
@click.option(
    "--lint-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File for --lint-format's output (written even when there are no findings).",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Build, then build again on every save of the configuration or of cfn/**/*.py, "
    "printing only what changed (files written, findings added or removed); Ctrl-C stops.",
)
@click.option(
    "--stop-server",
    is_flag=True,
    help="Stop this project's build servers (see below), say how many, and exit.",
)
@click.pass_context
@handle_errors()
def build_templates(
    ctx: click.Context,
    envs: tuple[str, ...],
    check: bool,
    no_lint: bool,
    no_cache: bool,
    config_path: Path | None,
    out_dir: Path | None,
    output_format: str,
    lint_format: str | None,
    lint_out: Path | None,
    watch: bool,
    stop_server: bool,
) -> None:
    """Render every environment's CloudFormation templates into templates/<env>/, its
    architecture diagram into docs/architecture/<env>.md and the README's generated sections,
    and validate the templates with cfn-lint and the project's own rules.

    Rendering is deterministic (sorted keys, no timestamps): the same code and config always
    give the same bytes, so all of it is committed and reviewed like code.
    """
    if stop_server:
        from cfn import buildserver

        stopped = buildserver.stop_all()
        click.echo(f"stopped {stopped} build server{'' if stopped == 1 else 's'}")
        return
    if lint_out and not lint_format:
        lint_format = "text"
    if lint_format and no_lint:
        raise click.UsageError("--lint-format and --lint-out need linting; drop --no-lint")
    if lint_format and not lint_out and output_format == "json":
        raise click.UsageError(
            "--output json and --lint-format both write to stdout; add --lint-out"
        )
    if watch and (check or lint_format or output_format == "json"):
        raise click.UsageError(
            "--watch writes the templates and shows text: drop --check, "
            "--lint-format, --lint-out and --output json"
        )
    request = build.BuildRequest(
        envs=envs,
        mode="check" if check else "write",
        lint=not no_lint,
        docs=out_dir is None,
        config_path=config_path,
        out_dir=out_dir,
        use_cache=not no_cache,
        lint_ahead=not lint_format,  # formatting the findings loads cfn-lint here (`_lint_report`)
    )
    if watch:
        from cfn import watch as watcher

        sys.exit(watcher.run(request, first=_show))
    try:
        result = build.run(request)
    except build.UnknownEnvironment as exc:
        raise click.BadParameter(str(exc), param_hint="'--env'") from None
    if lint_format:
        _lint_report(result, lint_format, lint_out)
    out, progress = summary.report(
        result, output_format, findings_elsewhere=bool(lint_format and not lint_out)
    )
    click.echo(out, nl=False)
    click.echo(progress, nl=False, err=True)
    taken = (ctx.obj or {}).get("snapshot")
    if taken is not None and not no_cache and not lint_format:
        # Run as bin/build-templates: the next identical invocation can replay this result.
        from cfn import fastbuild

        fastbuild.remember(taken, result, output_format)
    sys.exit(summary.exit_code(result))


def _show(result: build.BuildResult) -> None:
    out, progress = summary.report(result)
    click.echo(out, nl=False)
    click.echo(progress, nl=False, err=True)


def _lint_report(result: build.BuildResult, lint_format: str, lint_out: Path | None) -> None:
    from cfn import lintformat

    formatted = lintformat.format_findings(result.findings, lint_format)
    if lint_out is None:
        click.echo(formatted)
        return
    try:
        atomic_write(lint_out, formatted + ("\n" if formatted else ""))
    except WriteError as exc:
        raise build.BuildError(
            f"cannot write {exc.path}: {exc.reason} (choose another --lint-out)"
        ) from exc
    err(f"lint findings ({lint_format}) written to {lint_out}")


def run(argv: Sequence[str], taken: Snapshot | None = None) -> int:
    """Run build-templates with `argv` and return its exit status, the output flushed: what
    bin/build-templates does in its own process, and a build server's build process
    (`cfn.buildserver_zygote`) in a fork. `taken`: the snapshot of the invocation's inputs,
    when the caller took it already (`cfn.fastbuild.snapshot`)."""
    from cfn import fastbuild

    # This invocation's inputs besides the files it reads, taken before anything is read.
    obj = {"snapshot": fastbuild.snapshot(argv) if taken is None else taken}
    try:
        try:
            rv = build_templates.main(
                list(argv), prog_name="build-templates", obj=obj, standalone_mode=False
            )
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)  # usage errors: 2, as documented
        except click.exceptions.Abort:
            # Ctrl-C: the build writes all its files in one step or none, so nothing is half
            # written; whether that step had happened depends on when the interrupt came.
            err(
                "interrupted: the files are as before or all rewritten, none half-written; "
                "run bin/build-templates again for the summary and the lint findings"
            )
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)  # --help returns 0
    except SystemExit as done:
        sys.stdout.flush()
        sys.stderr.flush()
        status = done.code
        if isinstance(status, str):
            print(status, file=sys.stderr, flush=True)
        return status if isinstance(status, int) else (EXIT_OK if status is None else 1)


def main() -> None:
    """bin/build-templates (after the fast path, `cfn.fastbuild`, did not answer, nor a build
    server, `cfn.buildserver`)."""
    environ = dict(os.environ)
    argv = sys.argv[1:]
    status = run(argv)
    if lintfork.cfnlint_loaded():  # here, or in the lint parent it started (cfn.lintfork)
        # This process paid for loading cfn-lint: keep a process with it loaded for the next.
        from cfn import buildserver

        buildserver.start_for_next_build(argv, environ)
    # After linting, tearing down cfn-lint's object graph costs about a second at exit; the
    # output is flushed and every file written is closed, so skip it.
    os._exit(status)
