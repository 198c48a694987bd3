"""Typed errors of the deploy layer. Each carries a one-line message and, where there is one,
the command or step that fixes it; the CLI prints both and exits 1. `Interrupted` is Ctrl-C with
the line that says what was and was not done (exit 130)."""

from __future__ import annotations


class DeployError(Exception):
    """Something the user can act on; `hint` says how."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message + (f"\n  {self.hint}" if self.hint else "")


class StackStateError(DeployError):
    """The stack is in a state no change set can be made or executed in."""


class ChangeSetFailed(DeployError):
    pass


class StalePlan(DeployError):
    pass


class DeploymentFailed(DeployError):
    """The stack operation ended in a failed or rolled-back state."""

    def __init__(self, message: str, failures: list[str]) -> None:
        super().__init__(message)
        self.failures = failures

    def __str__(self) -> str:
        return "\n".join([self.message, *(f"  - {f}" for f in self.failures)])


class PreflightFailed(DeployError):
    """What `plan` found missing before anything was uploaded: every problem at once."""

    def __init__(self, problems: list[str], hints: list[str]) -> None:
        super().__init__(
            f"{len(problems)} problem(s) found before planning; nothing was uploaded",
            "\n  ".join(hints) if hints else None,
        )
        self.problems = problems

    def __str__(self) -> str:
        lines = [self.message, *(f"  - {p}" for p in self.problems)]
        return "\n".join(lines + ([f"  {self.hint}"] if self.hint else []))


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with one line saying what was and was not done (bin/deploy exits 130)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
