"""cfn-lint's own output formats (text, JSON, SARIF, JUnit, parseable) for the build's
findings, cached or fresh: `bin/build-templates --lint-format`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cfn.lint import Finding, _config, _rules

FORMATS = ("text", "json", "sarif", "junit", "parseable")


def _as_match(f: Finding) -> Any:
    from cfnlint.rules import Match

    return Match(
        message=f.message,
        rule=_rules()[f.rule_id],
        filename=f.path,
        linenumber=f.line,
        columnnumber=f.column,
        linenumberend=f.line_end or f.line,
        columnnumberend=f.column_end or f.column,
    )


def format_findings(findings: Sequence[Finding], fmt: str) -> str:
    """The findings in one of cfn-lint's own output formats."""
    import cfnlint.formatters as formatters

    formatter = {
        "text": formatters.Formatter,
        "json": formatters.JsonFormatter,
        "sarif": formatters.SARIFFormatter,
        "junit": formatters.JUnitFormatter,
        "parseable": formatters.ParseableFormatter,
    }[fmt]()
    matches = [f.match if f.match is not None else _as_match(f) for f in findings]
    return formatter.print_matches(matches, _rules(), _config("us-east-1")) or ""
