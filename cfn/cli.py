"""The command line: `build-templates` (render, check, lint) and `deploy` (change sets).

Commands are thin: they parse options, call one function of the package, print the result
(results to stdout, progress and errors to stderr) and choose the exit code. Known errors become
a one-line message and an exit code through `handle_errors`, never a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cfn import config as config_mod
from cfn import summary

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CHANGES = 2  # deploy plan: a change set is waiting for review

F = TypeVar("F", bound=Callable[..., Any])


def err(message: str) -> None:
    click.echo(message, err=True)


def handle_errors(config_exit: int = EXIT_USAGE) -> Callable[[F], F]:
    """Map the package's known errors to a message on stderr and an exit code.

    Known: an invalid configuration (`config_exit`), a deploy error and the AWS errors users
    meet (1). Anything else is a bug and keeps its traceback.
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from cfn.deploy.errors import DeployError

            try:
                return fn(*args, **kwargs)
            except config_mod.ConfigError as exc:
                err(f"error: invalid configuration: {exc}")
                err("fix the configuration file and run again")
                sys.exit(config_exit)
            except DeployError as exc:
                err(f"error: {exc}")
                sys.exit(EXIT_ERROR)
            except Exception as exc:
                explained = _explain_aws(exc)
                if explained is None:
                    raise
                err(f"error: {explained}")
                sys.exit(EXIT_ERROR)

        return wrapper  # type: ignore[return-value]

    return decorate


def _explain_aws(exc: BaseException) -> Any:
    if "botocore" not in sys.modules:  # not an AWS error: botocore was never imported
        return None
    from cfn.deploy.aws import explain

    return explain(exc)


# --------------------------------------------------------------------------------------------
# build-templates
# --------------------------------------------------------------------------------------------


def _select_envs(platform: config_mod.Platform, names: tuple[str, ...]) -> list[str]:
    known = list(platform.environments)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise click.BadParameter(
            f"unknown environment {', '.join(map(repr, unknown))}; known: {', '.join(known)}",
            param_hint="'--env'",
        )
    # Keep the config's order, drop repeats.
    return [n for n in known if n in names] if names else known


@click.command(
    "build-templates",
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Exit status: 0 clean; 1 lint findings or --check differences; "
    "2 bad usage or invalid configuration.",
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
    help="Render in memory and compare with templates/; name every differing, missing or "
    "extra file. Writes nothing.",
)
@click.option("--no-lint", is_flag=True, help="Skip cfn-lint and the project's rules.")
@click.option(
    "--graph",
    is_flag=True,
    help="Also write each environment's architecture diagram to docs/architecture/ "
    "(DOT, and SVG when Graphviz's dot is installed). With --check: check them only.",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Lint every template again, ignoring (and not updating) the lint cache in .cache/lint.",
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
    help="Directory of the rendered templates. Default: templates/ of this project.",
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
@handle_errors()
def build_templates(
    envs: tuple[str, ...],
    check: bool,
    no_lint: bool,
    graph: bool,
    no_cache: bool,
    config_path: Path | None,
    out_dir: Path | None,
    output_format: str,
    lint_format: str | None,
    lint_out: Path | None,
) -> None:
    """Render every environment's CloudFormation templates into templates/<env>/ and validate
    them with cfn-lint and the project's own rules.

    Rendering is deterministic (sorted keys, no timestamps): the same code and config always
    give the same bytes, so templates/ is committed and reviewed like code.
    """
    from cfn import build, render

    if lint_out and not lint_format:
        lint_format = "text"
    if lint_format and no_lint:
        raise click.UsageError("--lint-format and --lint-out need linting; drop --no-lint")
    if lint_format and not lint_out and output_format == "json":
        raise click.UsageError(
            "--output json and --lint-format both write to stdout; add --lint-out"
        )
    started = time.perf_counter()
    platform = config_mod.load(config_path)
    names = _select_envs(platform, envs)
    out = out_dir or build.TEMPLATES_DIR
    rendered = render.render(platform, names)

    differences: list[build.Difference] = []
    if check:
        differences = build.compare(rendered, out)
    else:
        changed = build.write(rendered, out)
        err(f"wrote {', '.join(changed)} to {out}" if changed else f"{out} already up to date")

    if out_dir is None:
        differences += _diagrams(rendered, names, write=graph and not check, check=check)
    findings = [] if no_lint else _lint(rendered, out, use_cache=not no_cache)
    label = _path_label(out)
    rows = [summary.Row(f"{label}/{r.path}", r.resource_count, r.size, r.sha256) for r in rendered]
    ok = not findings and not differences
    # The summary goes to stderr when stdout carries the findings in a CI format.
    summary_to_stderr = bool(lint_format and not lint_out)
    if lint_format:
        from cfn import lint

        formatted = lint.format_findings(findings, lint_format)
        if lint_out:
            _write_file(lint_out, formatted + ("\n" if formatted else ""))
            err(f"lint findings ({lint_format}) written to {lint_out}")
        else:
            click.echo(formatted)
    if output_format == "json":
        diffs = [
            {"path": _where(label, d), "kind": d.kind, "details": list(d.details)}
            for d in differences
        ]
        click.echo(summary.as_json(rows, findings, diffs, linted=not no_lint))
    else:
        click.echo(summary.as_text(rows, findings, linted=not no_lint), err=summary_to_stderr)
        if not lint_format:
            for f in findings:
                click.echo(str(f))
        for d in differences:
            click.echo(str(d) if d.kind == "diagram" else f"{label}/{d}", err=summary_to_stderr)
    if ok and out_dir is None and config_path is None and not no_cache:
        # A clean build of the project's own tree: the next identical build can skip the work.
        from cfn import fastbuild

        fastbuild.remember(envs, no_lint, rows, findings)
    elapsed = time.perf_counter() - started
    if differences:
        err(
            f"{len(differences)} file(s) in {label}/ differ from the code: "
            "run bin/build-templates and commit the result"
        )
    if findings:
        err(f"{len(findings)} lint finding(s)")
    err(summary.closing_line(len(rendered), len(names), elapsed))
    sys.exit(EXIT_OK if ok else EXIT_FINDINGS)


def _where(label: str, d: Any) -> str:
    return d.path if d.kind == "diagram" else f"{label}/{d.path}"


def _diagrams(rendered: list, names: list[str], write: bool, check: bool) -> list:
    """Write or check the committed architecture diagrams; return what is out of date."""
    from cfn import build, graph

    docs = build.PROJECT_ROOT / "docs" / "architecture"
    problems = []
    for name in names:
        if not write and not (check and (docs / f"{name}.dot").exists()):
            continue
        dot = graph.to_dot(name, [r for r in rendered if r.env == name])
        if write:
            _write_file(docs / f"{name}.dot", dot)
            svg = graph.to_svg(dot)
            if svg is None:
                err(
                    "Graphviz's dot is not installed: wrote the DOT only (apt-get install graphviz)"
                )
            else:
                _write_file(docs / f"{name}.svg", svg)
            err(f"diagram of {name} written to {docs}")
        else:
            problems += [build.Difference(p, "diagram") for p in graph.check(docs, name, dot)]
    return problems


def _write_file(path: Path, text: str) -> None:
    """Write via a temporary file and rename: readers never see half a file."""
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; these are shared artifacts
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _path_label(out: Path) -> str:
    """`templates` for the project's own directory, else the path as given."""
    from cfn import build

    try:
        return str(out.resolve().relative_to(build.PROJECT_ROOT))
    except ValueError:
        return str(out)


def _lint(rendered: list, out: Path, use_cache: bool) -> list:
    from cfn import lint

    cache_dir = lint.DEFAULT_CACHE_DIR if use_cache else None
    return lint.lint(rendered, base=_path_label(out), cache_dir=cache_dir)


def build_templates_main() -> None:
    """`bin/build-templates`: a cached build answers at once; any other goes through click."""
    from cfn import fastbuild

    fastbuild.main()


# --------------------------------------------------------------------------------------------
# deploy
# --------------------------------------------------------------------------------------------


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
        self.profile = profile
        self.endpoint_url = endpoint_url
        self.output = output
        self._clients: Any = None

    @property
    def clients(self) -> Any:
        if self._clients is None:
            from cfn.deploy.aws import make_clients

            self._clients = make_clients(self.region, self.profile, self.endpoint_url)
        return self._clients

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


def _progress_printer(total: int | None = None) -> Callable[[Any], None]:
    done: set[str] = set()

    def on_event(event: Any) -> None:
        if (
            event.status.endswith("_COMPLETE")
            and event.resource_type != "AWS::CloudFormation::Stack"
        ):
            done.add(f"{event.stack_name}/{event.logical_id}")
        counter = f"[{len(done)}/{total}] " if total else ""
        err(f"{counter}{event.line()}")

    return on_event


@click.group(
    "deploy",
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog="Every command takes --env, --region, --profile, --endpoint-url and --output.",
)
def deploy() -> None:
    """Deploy an environment through a reviewed CloudFormation change set.

    \b
    bootstrap  create or update the artifacts bucket (once per environment)
    plan       upload the templates, create the change set, print the review
    execute    execute exactly the reviewed change set and follow it
    status     the stack's status, outputs and waiting change sets
    """


@deploy.command()
@deploy_options
@handle_errors(config_exit=EXIT_ERROR)
def bootstrap(**kw: Any) -> None:
    """Create or update the <project>-<env>-bootstrap stack: the artifacts bucket."""
    from cfn.deploy import bootstrap as bootstrap_mod

    ctx = DeployContext(**kw)
    result = bootstrap_mod.run(ctx.clients.cloudformation, ctx.env, on_event=_progress_printer())
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
@handle_errors(config_exit=EXIT_ERROR)
def plan(
    image_tags: tuple[str, ...], plan_out: Path | None, summary_md: Path | None, **kw: Any
) -> None:
    """Upload the templates, create one change set for the environment and print its review.

    Exit status: 0 no changes, 2 a change set is ready for review, 1 error.
    """
    from cfn import build, naming
    from cfn.deploy import plan as plan_mod
    from cfn.deploy import review

    ctx = DeployContext(**kw)
    tags = plan_mod.parse_image_tags(ctx.env, image_tags)
    plan_path = plan_out or Path("plans") / f"{naming.root_stack(ctx.env)}.json"
    result = plan_mod.run(
        ctx.clients,
        ctx.env,
        image_tags=tags,
        templates_dir=build.TEMPLATES_DIR,
        plan_path=plan_path,
        progress=err,
    )
    if result.review is None:
        ctx.emit(
            f"no changes: {naming.root_stack(ctx.env)} already matches the templates",
            {"changes": None, "no_changes": True},
        )
        if summary_md:
            _write_file(summary_md, f"No changes for `{naming.root_stack(ctx.env)}`.\n")
        sys.exit(EXIT_OK)
    if summary_md:
        _write_file(summary_md, review.to_markdown(result.review))
        err(f"review written to {summary_md}")
    ctx.emit(review.to_text(result.review), {"no_changes": False, **result.review.to_dict()})
    sys.exit(EXIT_CHANGES)


@deploy.command()
@deploy_options
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (protected environments).")
@handle_errors(config_exit=EXIT_ERROR)
def execute(plan_file: Path, yes: bool, **kw: Any) -> None:
    """Execute exactly the change set PLAN_FILE describes, and follow it until it settles.

    Ctrl-C stops following, not the deployment.
    """
    from cfn.deploy import execute as execute_mod
    from cfn.deploy import plan as plan_mod
    from cfn.deploy.errors import DeployError

    ctx = DeployContext(**kw)
    planned = plan_mod.read_plan(plan_file)
    if planned["environment"] != ctx.env.name:
        raise DeployError(
            f"{plan_file} is a plan for {planned['environment']}, not {ctx.env.name}",
            f"use --env {planned['environment']} or the right plan file",
        )
    execute_mod.check_still_valid(ctx.clients, planned)
    if ctx.env.protected and not yes:
        if not sys.stdin.isatty():
            raise DeployError(
                f"{ctx.env.name} is protected and there is no terminal to confirm in",
                "run it in a terminal, or pass --yes once the review is approved",
            )
        if not click.confirm(
            f"Execute change set {planned['change_set_name']} "
            f"({planned.get('change_count', '?')} changes) on {planned['stack']} in account "
            f"{planned['account']}?",
            err=True,
        ):
            err("not executed")
            sys.exit(EXIT_ERROR)
    err(f"executing {planned['change_set_name']} on {planned['stack']}")
    final = execute_mod.run(
        ctx.clients, planned, on_event=_progress_printer(planned.get("change_count"))
    )
    ctx.emit(f"{planned['stack']}: {final}", {"stack": planned["stack"], "status": final})


@deploy.command()
@deploy_options
@handle_errors(config_exit=EXIT_ERROR)
def status(**kw: Any) -> None:
    """The root stack's status and last update, its outputs (the URL) and waiting change sets."""
    from cfn.deploy import status as status_mod

    ctx = DeployContext(**kw)
    result = status_mod.run(ctx.clients.cloudformation, ctx.env)
    ctx.emit(status_mod.to_text(result, ctx.env), result.to_dict())
    sys.exit(EXIT_OK if result.exists else EXIT_ERROR)


def deploy_main() -> None:
    """Run `deploy`; usage errors exit 1 here, because 2 means "changes to review"."""
    try:
        deploy.main(prog_name="deploy", standalone_mode=False)
    except click.exceptions.UsageError as exc:
        exc.show()
        sys.exit(EXIT_ERROR)
    except click.exceptions.Abort:
        err("aborted")
        sys.exit(EXIT_ERROR)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(EXIT_ERROR)
