"""The configuration's safety rules (issue 14): what a protected environment must have, and
that every opt-out of the envelope is explicit and explained.

Called by `cfn.validation` with typed settings; returns one message per problem, naming the
environment (or service) and the field, and saying what to set instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cfn.config import EnvironmentSettings, Service

# The audit trails a non-protected environment may turn off to save money (cost per month in
# the README's Safety section).
COST_OPT_OUTS = ("kms_log_encryption", "access_logs", "flow_logs")


def environment_problems(where: str, e: EnvironmentSettings) -> list[str]:
    """HTTPS (or a justified opt-out), the audit trails, the deploy identity."""
    return _https(where, e) + _opt_outs(where, e) + _identity(where, e)


def _https(where: str, e: EnvironmentSettings) -> list[str]:
    problems = []
    if bool(e.domain_name) != bool(e.hosted_zone_id):
        problems.append(
            f"{where}: domain_name and hosted_zone_id go together (the certificate is validated "
            f"and the alias record written in that zone); set both or neither"
        )
    if e.certificate_arn and e.domain_name:
        problems.append(
            f"{where}: set either certificate_arn (a certificate you manage) or domain_name with "
            f"hosted_zone_id (a certificate the templates create), not both"
        )
    if e.protected and not e.https:
        problems.append(
            f"{where}: a protected environment must serve HTTPS; set domain_name and "
            f"hosted_zone_id (or certificate_arn)"
        )
    if e.allow_http_only and e.protected:
        problems.append(
            f"{where}: allow_http_only is refused in a protected environment; remove it and "
            f"configure HTTPS"
        )
    elif e.allow_http_only and e.https:
        problems.append(
            f"{where}: allow_http_only = true but HTTPS is configured; remove allow_http_only"
        )
    elif not e.protected and not e.https and not e.allow_http_only:
        problems.append(
            f"{where}: no HTTPS configured; set domain_name and hosted_zone_id (or "
            f'certificate_arn), or opt out with allow_http_only = true and http_only_reason = "..."'
        )
    if e.allow_http_only and not e.http_only_reason.strip():
        problems.append(f"{where}: allow_http_only needs http_only_reason (why plain HTTP is fine)")
    return problems


def _opt_outs(where: str, e: EnvironmentSettings) -> list[str]:
    off = [name for name in COST_OPT_OUTS if not getattr(e, name)]
    if not off:
        return []
    listed = ", ".join(f"{name} = false" for name in off)
    if e.protected:
        return [
            f"{where}: {listed} is refused in a protected environment (audit trails stay on); "
            f"set {' and '.join(off)} to true"
        ]
    if not e.cost_opt_out_reason.strip():
        return [f"{where}: {listed} needs cost_opt_out_reason (why this environment goes without)"]
    return []


def _identity(where: str, e: EnvironmentSettings) -> list[str]:
    if e.deploy_role_arn and e.profile:
        return [f"{where}: set deploy_role_arn or profile, not both (one way into the account)"]
    if e.deploy_role_arn and e.deploy_role_arn.split(":")[4] != e.account_id:
        return [
            f"{where}: deploy_role_arn is in account {e.deploy_role_arn.split(':')[4]}, the "
            f"environment in {e.account_id}; use a role of account {e.account_id}"
        ]
    return []


def service_problems(where: str, s: Service) -> list[str]:
    """The container's user is not root; writable paths are distinct and not the root."""
    problems = []
    uid, _, gid = s.user.partition(":")
    if int(uid) == 0 or (gid and int(gid) == 0):
        problems.append(
            f"{where}: user {s.user!r} runs the container as root (uid or gid 0); use a "
            f'non-root user such as "1000:1000"'
        )
    if "/" in s.writable_paths:
        problems.append(f"{where}: writable_paths may not include '/' (the root filesystem)")
    if len(set(s.writable_paths)) != len(s.writable_paths):
        problems.append(f"{where}: writable_paths lists a path twice")
    return problems
