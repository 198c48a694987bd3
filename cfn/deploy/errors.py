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
        # A name is <project>/<env>/<service>/<NAME> (cfn.naming.secret).
        commands = "\n  ".join(
            "bin/deploy secret set --env {1} {2} {3}".format(*n.split("/")[-4:]) for n in names
        )
        super().__init__(
            f"{len(names)} secret(s) the services read do not exist: {', '.join(names)}",
            f"set each (the value is read from a hidden prompt or stdin, never printed):\n"
            f"  {commands}",
        )
        self.names = names
        self.region = region


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
