"""boto3 clients for the deploy commands, and AWS's errors translated to one line.

Every client shares one session (profile, region) and one retry policy: botocore's `standard`
mode retries throttling and transient errors with backoff. `--endpoint-url` points every client
at an emulator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from cfn.deploy.errors import DeployError

RETRIES = {"mode": "standard", "max_attempts": 10}


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


def make_clients(
    region: str, profile: str | None = None, endpoint_url: str | None = None
) -> Clients:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound:
        raise DeployError(
            f"AWS profile {profile!r} not found", "check ~/.aws/config or drop --profile"
        ) from None
    config = Config(retries=RETRIES, user_agent_extra="insightxi-infra")

    def client(name: str) -> Any:
        if name == "logs" and endpoint_url:
            # Live tail has its own host (a "streaming-" prefix), which an emulator's URL
            # cannot take.
            return session.client(
                name,
                endpoint_url=endpoint_url,
                config=config.merge(Config(inject_host_prefix=False)),
            )
        return session.client(name, endpoint_url=endpoint_url, config=config)

    return Clients(
        cloudformation=client("cloudformation"),
        s3=client("s3"),
        secretsmanager=client("secretsmanager"),
        sts=client("sts"),
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
