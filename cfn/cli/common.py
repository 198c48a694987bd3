"""What every command group shares: exit codes, the error-to-message mapping, stderr output.

Commands are thin: they parse options, call one function of the package, print the result
(results to stdout, progress and errors to stderr) and choose the exit code. Known errors become
a one-line message and an exit code through `handle_errors`, never a traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CHANGES = 2  # deploy plan: a change set is waiting for review
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it

F = TypeVar("F", bound=Callable[..., Any])


def err(message: str) -> None:
    click.echo(message, err=True)


def handle_errors(config_exit: int = EXIT_USAGE) -> Callable[[F], F]:
    """Map the package's known errors to a message on stderr and an exit code.

    Known: an invalid configuration (`config_exit`), a build that cannot be done (a file that
    cannot be written: 1), a deploy error and the AWS errors users meet (1). Anything else is a
    bug and keeps its traceback.
    """

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from cfn.build import BuildError
            from cfn.deploy.errors import DeployError
            from cfn.fsutil import WriteError

            try:
                return fn(*args, **kwargs)
            except _config_error() as exc:
                err(f"error: invalid configuration: {exc}")
                err("fix the configuration file and run again")
                sys.exit(config_exit)
            except BuildError as exc:
                err(f"error: {exc}")
                sys.exit(EXIT_ERROR)
            except WriteError as exc:
                err(f"error: cannot write {exc.path}: {exc.reason}")
                err("make its directory writable, or give another path")
                sys.exit(EXIT_ERROR)
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


class _NotRaised(Exception):
    """What no exception is: `cfn.config` was not imported, so none of its errors was raised."""


def _config_error() -> type[Exception]:
    """`cfn.config.ConfigError` when that module is loaded. Read when an exception is matched,
    not imported up front: a build starts its lint process before the configuration module
    (pydantic, troposphere: about 0.15 s) is imported (`cfn.build.run`)."""
    module = sys.modules.get("cfn.config")
    return module.ConfigError if module is not None else _NotRaised


def _explain_aws(exc: BaseException) -> Any:
    if "botocore" not in sys.modules:  # not an AWS error: botocore was never imported
        return None
    from cfn.deploy.aws import explain

    return explain(exc)


def run_group(group: click.Group) -> None:
    """Run a command group (`deploy`); usage errors exit 1, because 2 means "changes to
    review"; Ctrl-C is one line and exit 130."""
    try:
        group.main(prog_name=group.name, standalone_mode=False)
    except click.exceptions.UsageError as exc:
        exc.show()
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt as exc:
        _interrupted(exc)
    except click.exceptions.Abort as exc:
        # click turns Ctrl-C inside a command into Abort; the interrupt is its cause.
        if isinstance(exc.__cause__, KeyboardInterrupt):
            _interrupted(exc.__cause__)
        err("aborted")
        sys.exit(EXIT_ERROR)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(EXIT_ERROR)


def _interrupted(exc: KeyboardInterrupt) -> None:
    """Ctrl-C: one line saying what was and was not done, exit 130; never a traceback."""
    err(getattr(exc, "message", None) or "interrupted")
    sys.exit(EXIT_INTERRUPTED)
