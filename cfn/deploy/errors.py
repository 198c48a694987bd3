"""Typed errors of the deploy layer. Each carries a one-line message and, where there is one,
the command or step that fixes it; the CLI prints both and exits 1."""

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


class MissingSecrets(DeployError):
    def __init__(self, names: list[str], region: str) -> None:
        commands = "\n  ".join(
            f"aws secretsmanager create-secret --region {region} --name {n} --secret-string '...'"
            for n in names
        )
        super().__init__(
            f"{len(names)} secret(s) the services read do not exist: {', '.join(names)}",
            f"create them (the value is never printed or stored by this tool):\n  {commands}",
        )
        self.names = names


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


class FollowInterrupted(DeployError):
    """Ctrl-C while following: the deployment goes on in AWS."""


class NotStarted(DeployError):
    """Ctrl-C (or a failure) before ExecuteChangeSet was accepted: nothing changed in AWS."""


class RolloutFailed(DeployError):
    """The stack settled but a service did not roll out (e.g. a circuit-breaker rollback)."""

    def __init__(self, message: str, verdicts: list[str]) -> None:
        super().__init__(message)
        self.verdicts = verdicts

    def __str__(self) -> str:
        return "\n".join([self.message, *(f"  - {v}" for v in self.verdicts)])


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
