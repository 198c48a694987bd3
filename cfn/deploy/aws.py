"""boto3 clients for the deploy commands, the endpoint they talk to, and AWS's errors translated
to one line.

Every client shares one session (profile, region) and one retry policy: botocore's `standard`
mode retries throttling and transient errors with backoff. `--endpoint-url` points every client
at an emulator; it is checked first (scheme, then one short TCP and TLS probe), so that a typo,
TLS to a plain-HTTP endpoint or an unreachable host is one line within seconds, not a traceback
after twenty.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from cfn.deploy import identity
from cfn.deploy.errors import DeployError

RETRIES = {"mode": "standard", "max_attempts": 10}
# A connection is made in well under a second when the endpoint is there; waiting longer only
# delays the message.
CONNECT_TIMEOUT = 4
READ_TIMEOUT = 60
# The probe's first attempt: longer than this, and a progress line says what it waits for.
PATIENCE = 1.0
# Attempts at a call that cannot connect at all (refused, unresolvable, no answer): throttling
# and 5xx keep the standard mode's RETRIES, but a host that is not there will not come back in
# the next seconds.
CONNECTION_ATTEMPTS = 2


@dataclass(frozen=True)
class Account:
    """The AWS account an environment lives in, and the role to assume there (or "")."""

    env_name: str
    account_id: str
    role_arn: str = ""


@dataclass(frozen=True)
class Clients:
    cloudformation: Any
    s3: Any
    secretsmanager: Any
    sts: Any
    region: str
    # Made on first use: loading a service's model costs ~0.3 s, and most commands need few.
    make: Callable[[str], Any] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def ecs(self) -> Any:
        return self.make("ecs") if self.make else None

    @cached_property
    def logs(self) -> Any:
        return self.make("logs") if self.make else None

    @cached_property
    def elbv2(self) -> Any:
        return self.make("elbv2") if self.make else None

    @cached_property
    def ecr(self) -> Any:
        return self.make("ecr") if self.make else None


def check_endpoint_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of `--endpoint-url`, or a DeployError saying how to write it."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        hostname = None
        parts = urlsplit("")
    if "://" not in url:
        raise DeployError(
            f"--endpoint-url {url!r} is not a URL with http:// or https://",
            f"write it with the scheme, e.g. --endpoint-url http://{url}",
        )
    if parts.scheme not in ("http", "https") or not hostname:
        raise DeployError(
            f"--endpoint-url {url!r} is not a valid http:// or https:// URL",
            "e.g. --endpoint-url http://localhost:5000",
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DeployError(
            f"--endpoint-url {url!r} has an invalid port",
            "e.g. --endpoint-url http://localhost:5000",
        ) from None
    return parts.scheme, hostname, port


def probe_endpoint(url: str, progress: Callable[[str], None] = lambda s: None) -> None:
    """Connect once to `url` (and shake hands for https); a DeployError naming why not."""
    scheme, host, port = check_endpoint_url(url)
    try:
        sock = _connect(host, port, url, progress)
    except socket.gaierror:
        raise DeployError(
            f"cannot reach {url}: the host name {host!r} does not resolve",
            "check the spelling of --endpoint-url",
        ) from None
    except ConnectionRefusedError:
        raise DeployError(
            f"cannot reach {url}: connection refused (nothing listens on port {port})",
            "start the endpoint (bin/local-aws for the local AWS) or fix the port",
        ) from None
    except OSError as exc:
        why = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise DeployError(
            f"cannot reach {url}: {why} within {CONNECT_TIMEOUT} s",
            "check the network and --endpoint-url",
        ) from None
    with sock:
        if scheme == "https":
            _handshake(sock, host, url)


def _connect(host: str, port: int, url: str, progress: Callable[[str], None]) -> socket.socket:
    try:
        return socket.create_connection((host, port), timeout=PATIENCE)
    except TimeoutError:
        progress(f"waiting for {url} to answer (up to {CONNECT_TIMEOUT} s)...")
    return socket.create_connection((host, port), timeout=CONNECT_TIMEOUT - PATIENCE)


def _handshake(sock: socket.socket, host: str, url: str) -> None:
    context = ssl.create_default_context()
    # Only whether TLS is spoken at all; botocore verifies the certificate on the real calls.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        context.wrap_socket(sock, server_hostname=host).close()
    except (ssl.SSLError, ConnectionResetError, TimeoutError) as exc:
        plain = url.replace("https://", "http://", 1)
        raise DeployError(
            f"{url} does not speak TLS: TLS to a plain-HTTP endpoint? ({type(exc).__name__})",
            f"for an emulator use --endpoint-url {plain}",
        ) from None


def _connection_retries(endpoint: str, progress: Callable[[str], None]) -> Callable[..., None]:
    """A `needs-retry` handler that gives up on connection errors after CONNECTION_ATTEMPTS.

    botocore asks every handler whether to retry and takes the first delay; raising the error
    here ends the retries for this call (the standard handler still decides all others).
    """
    from botocore.exceptions import ConnectionError as BotoConnectionError

    def handler(attempts: int = 1, caught_exception: Any = None, **_: Any) -> None:
        if not isinstance(caught_exception, BotoConnectionError):
            return
        if attempts >= CONNECTION_ATTEMPTS:
            raise caught_exception
        progress(f"cannot connect to {endpoint} ({type(caught_exception).__name__}); retrying")

    return handler


def make_clients(
    region: str,
    profile: str | None = None,
    endpoint_url: str | None = None,
    progress: Callable[[str], None] = lambda s: None,
    account: Account | None = None,
) -> Clients:
    """Clients for `region`; with `account`, first its role assumed and the caller's account
    checked (`cfn.deploy.identity`), before any other call."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ProfileNotFound

    if endpoint_url:
        probe_endpoint(endpoint_url, progress)
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound:
        raise DeployError(
            f"AWS profile {profile!r} not found", "check ~/.aws/config or drop --profile"
        ) from None
    config = Config(
        retries=RETRIES,
        user_agent_extra="insightxi-infra",
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
    )

    def client(name: str) -> Any:
        if name == "logs" and endpoint_url:
            # Live tail has its own host (a "streaming-" prefix), which an emulator's URL
            # cannot take.
            config_for = config.merge(Config(inject_host_prefix=False))
        else:
            config_for = config
        made = session.client(name, endpoint_url=endpoint_url, config=config_for)
        service = made.meta.service_model.service_id.hyphenize()
        made.meta.events.register_first(
            f"needs-retry.{service}", _connection_retries(made.meta.endpoint_url, progress)
        )
        return made

    if account and account.role_arn:
        keys = identity.assume_role(client("sts"), account.role_arn, account.env_name)
        session = boto3.Session(region_name=region, **keys)
        progress(f"assumed {account.role_arn} as {identity.session_name(account.env_name)}")
    sts = client("sts")
    if account:
        identity.check_account(sts, account.account_id, account.env_name)
    return Clients(
        cloudformation=client("cloudformation"),
        s3=client("s3"),
        secretsmanager=client("secretsmanager"),
        sts=sts,
        region=region,
        make=client,
    )


_UNKNOWN_KEY = "AWS does not recognise these credentials (wrong account or key)"
_CREDENTIAL_CODES = {
    "ExpiredToken": "your AWS credentials have expired: refresh them (e.g. aws sso login)",
    "ExpiredTokenException": "your AWS credentials have expired: refresh them (e.g. aws sso login)",
    "RequestExpired": "the request expired: check the clock and refresh your credentials",
    "InvalidClientTokenId": _UNKNOWN_KEY,
    "UnrecognizedClientException": _UNKNOWN_KEY,
    "SignatureDoesNotMatch": "AWS rejected the request signature: check the secret access key",
}
_DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden"}


def explain(exc: BaseException) -> DeployError | None:
    """A one-line DeployError for AWS errors a user meets; None for anything else."""
    from botocore import exceptions as bx
    from botocore.parsers import ResponseParserError

    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return DeployError(
            "no AWS credentials found",
            "use --profile, set AWS_PROFILE, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        )
    if isinstance(exc, bx.TokenRetrievalError | bx.SSOTokenLoadError):
        return DeployError("your SSO session has expired", "run: aws sso login")
    if isinstance(exc, bx.SSLError):
        return DeployError(
            f"TLS failed with {exc.kwargs.get('endpoint_url', 'the endpoint')}: TLS to a "
            "plain-HTTP endpoint, or a proxy in the way?",
            "for an emulator use an http:// --endpoint-url",
        )
    if isinstance(exc, bx.ConnectTimeoutError | bx.ReadTimeoutError):
        return DeployError(
            f"{exc.kwargs.get('endpoint_url', 'the AWS endpoint')} did not answer in time",
            "check the network, --region and --endpoint-url",
        )
    if isinstance(exc, bx.EndpointConnectionError):
        return DeployError(
            f"cannot reach {exc.kwargs.get('endpoint_url', 'the AWS endpoint')}",
            "check the network, --region and --endpoint-url",
        )
    if isinstance(exc, ResponseParserError):
        return DeployError(
            "the endpoint returned a response that is not AWS's (an emulator error?)"
        )
    if isinstance(exc, bx.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        operation = exc.operation_name
        if code in _CREDENTIAL_CODES:
            return DeployError(_CREDENTIAL_CODES[code])
        if code in _DENIED_CODES:
            return DeployError(
                f"access denied to {operation}: {message}",
                "the credentials' role needs that permission",
            )
        if code in ("Throttling", "ThrottlingException", "TooManyRequestsException"):
            return DeployError(f"AWS kept throttling {operation} after retries: try again later")
        return DeployError(f"{operation} failed: {code}: {message}")
    return None


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code", "")
