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

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

F = TypeVar("F", bound=Callable[..., Any])


def err(message: str) -> None:
    click.echo(message, err=True)


def handle_errors(fn: F) -> F:
    """Map the package's known errors to a message on stderr and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except config_mod.ConfigError as exc:
            err(f"error: invalid configuration: {exc}")
            err("fix the configuration file and run again")
            sys.exit(EXIT_USAGE)

    return wrapper  # type: ignore[return-value]


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


def _table(rows: list[tuple[str, ...]], headers: tuple[str, ...]) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    right = {i for i, h in enumerate(headers) if h in {"resources", "bytes", "findings"}}

    def fmt(row: tuple[str, ...]) -> str:
        cells = [
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    return "\n".join([fmt(headers), fmt(tuple("-" * w for w in widths)), *map(fmt, rows)])


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
@handle_errors
def build_templates(
    envs: tuple[str, ...],
    check: bool,
    no_lint: bool,
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

    findings = [] if no_lint else _lint(rendered, out)
    per_file: dict[str, int] = {}
    for f in findings:
        per_file[f.path] = per_file.get(f.path, 0) + 1

    label = _path_label(out)
    rows = [
        (
            f"{label}/{r.path}",
            str(r.resource_count),
            str(r.size),
            "-" if no_lint else str(per_file.get(f"{label}/{r.path}", 0)),
        )
        for r in rendered
    ]
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
        click.echo(
            json.dumps(
                {
                    "ok": ok,
                    "templates": [
                        {
                            "path": f"{label}/{r.path}",
                            "resources": r.resource_count,
                            "bytes": r.size,
                            "sha256": r.sha256,
                            "findings": None if no_lint else per_file.get(f"{label}/{r.path}", 0),
                        }
                        for r in rendered
                    ],
                    "findings": [
                        {
                            "path": f.path,
                            "line": f.line,
                            "column": f.column,
                            "rule": f.rule_id,
                            "level": f.level,
                            "message": f.message,
                        }
                        for f in findings
                    ],
                    "differences": [
                        {"path": f"{label}/{d.path}", "kind": d.kind, "details": list(d.details)}
                        for d in differences
                    ],
                },
                indent=2,
            )
        )
    else:
        click.echo(
            _table(rows, ("template", "resources", "bytes", "findings")), err=summary_to_stderr
        )
        if not lint_format:
            for f in findings:
                click.echo(str(f))
        for d in differences:
            click.echo(f"{label}/{d}", err=summary_to_stderr)
    elapsed = time.perf_counter() - started
    if differences:
        err(
            f"{len(differences)} file(s) in {label}/ differ from the code: "
            "run bin/build-templates and commit the result"
        )
    if findings:
        err(f"{len(findings)} lint finding(s)")
    err(f"{len(rendered)} template(s), {len(names)} environment(s), {elapsed:.2f} s")
    sys.exit(EXIT_OK if ok else EXIT_FINDINGS)


def _write_file(path: Path, text: str) -> None:
    """Write via a temporary file and rename: readers never see half a file."""
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
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


def _lint(rendered: list, out: Path) -> list:
    from cfn import lint

    return lint.lint(rendered, base=_path_label(out))


def build_templates_main() -> None:
    build_templates(prog_name="build-templates")
