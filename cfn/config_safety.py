"""The configuration's safety envelope: the fields each environment and each service adds to
`cfn.config`'s models for issue 14, and which values are only examples.

An environment names its AWS account (and optionally the role or profile a deploy uses there),
how HTTPS is served (a certificate ARN, or a domain and its Route 53 hosted zone), the rollback
alarms' thresholds and the monitoring time a change set watches them for, and the audit trails
it keeps (KMS-encrypted logs, load balancer and bucket access logs, VPC flow logs). Turning an
audit trail off, or serving plain HTTP, is an explicit choice with a recorded reason, refused
in a protected environment (`cfn.validation_safety`). A service names the user its container
runs as and the paths it may write to (everything else is a read-only root filesystem).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel

from cfn.configtypes import Bool, Int, Str, UrlPath, at_most, between, matching

if TYPE_CHECKING:
    from cfn.config import EnvironmentSettings

AccountId = Annotated[Str, matching(r"\d{12}", "a 12-digit AWS account id")]
# Domains reserved for examples (RFC 2606, RFC 6761): never anyone's real host name.
EXAMPLE_DOMAINS = ("example.com", "example.net", "example.org")
# A made-up Route 53 zone id the example configuration uses; AWS never issues "EXAMPLE".
EXAMPLE_ZONE_MARK = "EXAMPLE"


class EnvironmentSafety(BaseModel):
    """Fields every environment table has besides its network and sizing (see module doc)."""

    account_id: AccountId
    deploy_role_arn: Annotated[
        Str, matching(r"(arn:aws[a-z-]*:iam::\d{12}:role/\S+)?", "an IAM role ARN or empty")
    ] = ""
    profile: Str = ""
    domain_name: Annotated[
        Str,
        at_most(253),
        matching(
            r"((?!-)[a-z0-9-]{1,63}(?<!-)\.)+[a-z]{2,63}|",
            "a lowercase DNS name (e.g. app.example.org) or empty",
        ),
    ] = ""
    hosted_zone_id: Annotated[
        Str, matching(r"(Z[A-Z0-9]{1,31})?", "a Route 53 hosted zone id (Z...) or empty")
    ] = ""
    allow_http_only: Bool = False
    http_only_reason: Str = ""
    # Minutes CloudFormation watches the rollback alarms after a deployment (0 to 180).
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_RollbackConfiguration.html
    rollback_monitoring_minutes: Annotated[Int, between(0, 180)] = 0
    alarm_5xx_per_minute: Annotated[Int, between(1, 1_000_000)] = 10
    alarm_unhealthy_targets: Annotated[Int, between(1, 1000)] = 1
    alarm_evaluation_minutes: Annotated[Int, between(1, 60)] = 2
    kms_log_encryption: Bool = True
    access_logs: Bool = True
    access_log_expiration_days: Annotated[Int, between(1, 3650)] = 90
    flow_logs: Bool = True
    cost_opt_out_reason: Str = ""

    @property
    def https(self) -> bool:
        return bool(getattr(self, "certificate_arn", "") or self.domain_name)


class ServiceSafety(BaseModel):
    """Fields every service has: who its container runs as, where it may write."""

    # "uid:gid" or "uid", never root (0): checked in `cfn.validation_safety`.
    user: Annotated[Str, matching(r"\d{1,10}(:\d{1,10})?", "a numeric uid or uid:gid")] = (
        "1000:1000"
    )
    writable_paths: Annotated[tuple[UrlPath, ...], at_most(10)] = ()


def is_example_domain(domain: str) -> bool:
    """Whether `domain` is, or is under, a domain reserved for examples."""
    return any(domain == d or domain.endswith("." + d) for d in EXAMPLE_DOMAINS)


def example_values(e: EnvironmentSettings) -> list[str]:
    """The example values left in an environment (a protected one must not be deployed with any)."""
    found = []
    if e.domain_name and is_example_domain(e.domain_name):
        found.append(f"domain_name {e.domain_name!r} is a reserved example domain")
    if EXAMPLE_ZONE_MARK in e.hosted_zone_id:
        found.append(f"hosted_zone_id {e.hosted_zone_id!r} is a made-up example zone")
    return found
