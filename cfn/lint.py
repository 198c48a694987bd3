"""cfn-lint in-process over rendered templates, with the project's own rules appended.

The rule set is loaded once per process and reused for every template (building it costs more
than linting a template). cfn-lint is imported only when linting is asked for, so that
`--no-lint` and `--check` stay fast.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cfn.render import RenderedTemplate

PROJECT_RULES_DIR = Path(__file__).with_name("rules")
_LEVELS = {"E": "error", "W": "warning", "I": "informational"}


@dataclass(frozen=True, order=True)
class Finding:
    """One cfn-lint match, reduced to what a person or a CI system needs."""

    path: str
    line: int
    column: int
    rule_id: str
    message: str
    # cfn-lint's own Match, for its formatters (SARIF, JUnit, ...).
    match: Any = field(default=None, compare=False, repr=False, hash=False)

    @property
    def level(self) -> str:
        return _LEVELS.get(self.rule_id[:1], "error")

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.rule_id} {self.message}"


@lru_cache(maxsize=1)
def _rules() -> Any:
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    # cfn-lint's default rules plus ours, exactly as `cfn-lint --append-rules cfn/rules` loads them.
    return Runner(ConfigMixIn([], append_rules=[str(PROJECT_RULES_DIR)])).rules


@lru_cache(maxsize=8)
def _config(region: str) -> Any:
    from cfnlint.config import ConfigMixIn

    return ConfigMixIn([], regions=[region], append_rules=[str(PROJECT_RULES_DIR)])


def lint_text(path: str, text: str, region: str) -> list[Any]:
    """cfn-lint's own `Match` objects for one template text."""
    from cfnlint.decode.decode import decode_str
    from cfnlint.runner.template.runner import _run_template

    template, matches = decode_str(text)
    if matches:
        return [dataclasses.replace(m, filename=path) for m in matches]
    return list(_run_template(path, template, _config(region), _rules()))


def to_finding(match: Any) -> Finding:
    return Finding(
        path=match.filename or "",
        line=match.linenumber,
        column=match.columnnumber,
        rule_id=match.rule.id,
        message=match.message,
        match=match,
    )


def lint(templates: Sequence[RenderedTemplate], base: str = "templates") -> list[Finding]:
    """Every finding on every template, sorted by file, line and rule."""
    findings: list[Finding] = []
    for t in templates:
        findings += [to_finding(m) for m in lint_text(f"{base}/{t.path}", t.text, t.region)]
    return sorted(findings)


FORMATS = ("text", "json", "sarif", "junit", "parseable")


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
    matches = [f.match for f in findings]
    return formatter.print_matches(matches, _rules(), _config("us-east-1")) or ""
