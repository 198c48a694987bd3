"""`build-templates`: render every environment's templates, check them against templates/, lint.

Thin: parse the options, call the build, print its summary, choose the exit code.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from cfn import config as config_mod
from cfn import summary
from cfn.cli.common import EXIT_FINDINGS, EXIT_OK, err, handle_errors
from cfn.fsutil import atomic_write


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
            atomic_write(lint_out, formatted + ("\n" if formatted else ""))
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
            atomic_write(docs / f"{name}.dot", dot)
            svg = graph.to_svg(dot)
            if svg is None:
                err(
                    "Graphviz's dot is not installed: wrote the DOT only (apt-get install graphviz)"
                )
            else:
                atomic_write(docs / f"{name}.svg", svg)
            err(f"diagram of {name} written to {docs}")
        else:
            problems += [build.Difference(p, "diagram") for p in graph.check(docs, name, dot)]
    return problems


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
