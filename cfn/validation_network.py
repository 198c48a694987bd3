"""The configuration's network rules: each environment's VPC and subnets, and VPCs that overlap.

Called by `cfn.validation` and `cfn.config` with typed environment settings; returns one message
per problem, each naming the environment and field and, for AWS's rules, the limit and its
source.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cfn.limits import cite

if TYPE_CHECKING:
    from cfn.config import EnvironmentSettings


def network_problems(where: str, e: EnvironmentSettings) -> list[str]:
    """The VPC and its subnets: valid, private, inside the VPC, no overlap, two zones at least."""
    try:
        vpc = ipaddress.ip_network(e.vpc_cidr)
    except ValueError as exc:
        return [f"{where}: vpc_cidr {e.vpc_cidr[:60]!r} is not a valid CIDR block ({exc})"]
    if vpc.version != 4 or not 16 <= vpc.prefixlen <= 28:
        return [f"{where}: vpc_cidr {vpc} must be IPv4 with a /16 to /28 prefix {cite('vpc-cidr')}"]
    problems = []
    if not vpc.is_private:
        problems.append(f"{where}: vpc_cidr {vpc} is not a private (RFC 1918) range")
    subnets: list[tuple[str, Any]] = []
    for kind, cidrs in (
        ("public_subnets", e.public_subnets),
        ("private_subnets", e.private_subnets),
    ):
        for cidr in cidrs:
            try:
                net = ipaddress.ip_network(cidr)
            except ValueError as exc:
                problems.append(
                    f"{where}: {kind} entry {cidr[:60]!r} is not a valid CIDR block ({exc})"
                )
                continue
            if net.version != vpc.version or not net.subnet_of(vpc):  # type: ignore[arg-type]
                problems.append(
                    f"{where}: {kind} entry {cidr} does not fit in vpc_cidr {vpc} "
                    + cite("subnet-cidr")
                )
            elif not 16 <= net.prefixlen <= 28:
                problems.append(
                    f"{where}: {kind} entry {cidr} must have a /16 to /28 prefix "
                    + cite("subnet-cidr")
                )
            subnets.append((f"{kind} entry {cidr}", net))
    for i, (a_name, a) in enumerate(subnets):
        for b_name, b in subnets[i + 1 :]:
            if a.version == b.version and a.overlaps(b):
                problems.append(f"{where}: {a_name} overlaps {b_name} {cite('subnet-cidr')}")
    return problems + _zones(where, e)


def _zones(where: str, e: EnvironmentSettings) -> list[str]:
    problems = []
    public, private = len(e.public_subnets), len(e.private_subnets)
    if public != private:
        problems.append(
            f"{where}: public_subnets ({public}) and private_subnets ({private}) must have one "
            "entry per availability zone each"
        )
    if public < 2:
        problems.append(
            f"{where}: at least 2 availability zones are needed (an ALB requires two); got "
            f"{public} {cite('alb-subnets')}"
        )
    if not 1 <= e.nat_gateways <= max(public, 1):
        problems.append(
            f"{where}: nat_gateways {e.nat_gateways} must be between 1 and the number of "
            f"availability zones ({public})"
        )
    return problems


def check_environments(settings: Mapping[str, EnvironmentSettings]) -> list[str]:
    """Environments' VPCs must not overlap (so that they can be peered later)."""
    nets = {}
    for name, e in settings.items():
        try:
            nets[name] = ipaddress.ip_network(e.vpc_cidr)
        except ValueError:
            continue  # reported with the environment
    problems = []
    items = sorted(nets.items())
    for i, (a_name, a) in enumerate(items):
        for b_name, b in items[i + 1 :]:
            if a.version == b.version and a.overlaps(b):
                problems.append(
                    f"environment {b_name}: vpc_cidr {b} overlaps environment {a_name}'s {a}"
                )
    return problems
