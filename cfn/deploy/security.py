"""Security broadenings of one change, found in the change set's real before/after values.

Broadening: an IAM statement that allows more (an action, resource or principal not allowed
before, a Deny dropped, a managed policy attached, a trust that lets someone new assume the
role); a security-group rule that admits more (new peer, wider CIDR, wider port range or
protocol); anything made public (0.0.0.0/0, an internet-facing load balancer, tasks with a public
IP). Narrowing is not broadening. The values come from the resource's `BeforeContext` and
`AfterContext` (DescribeChangeSet with IncludePropertyValues); without them, from the property
details, more coarsely.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
from typing import Any

from cfn.deploy.review import Change

_ANYWHERE = ("0.0.0.0/0", "::/0")
_PEERS = (
    "CidrIp",
    "CidrIpv6",
    "SourceSecurityGroupId",
    "DestinationSecurityGroupId",
    "SourcePrefixListId",
    "DestinationPrefixListId",
)


def _properties(context: str) -> dict[str, Any] | None:
    if not context:
        return None
    try:
        data = json.loads(context)
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("Properties"), dict):
        return data["Properties"]
    return data if isinstance(data, dict) else None


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# -- IAM ---------------------------------------------------------------------------------------


def _principals(principal: Any) -> list[str]:
    if principal is None:
        return [""]
    if principal == "*":
        return ["*"]
    if isinstance(principal, dict):
        return [f"{k}:{v}" for k, vs in sorted(principal.items()) for v in _list(vs)]
    return [str(p) for p in _list(principal)]


def _atoms(document: Any) -> set[tuple[str, str, str, str, str]]:
    """(effect, action, resource, principal, condition) of every statement of a policy."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return set()
    if not isinstance(document, dict):
        return set()
    atoms = set()
    for st in _list(document.get("Statement")):
        if not isinstance(st, dict):
            continue
        actions = [str(a) for a in _list(st.get("Action"))] or [
            f"NOT {a}" for a in _list(st.get("NotAction"))
        ]
        resources = (
            [str(r) for r in _list(st.get("Resource"))]
            or [f"NOT {r}" for r in _list(st.get("NotResource"))]
            or [""]
        )
        condition = json.dumps(st.get("Condition") or {}, sort_keys=True)
        for action in actions:
            for resource in resources:
                for principal in _principals(st.get("Principal")):
                    atoms.add((st.get("Effect", "Allow"), action, resource, principal, condition))
    return atoms


def _covers(wide: tuple[str, ...], narrow: tuple[str, ...]) -> bool:
    effect, action, resource, principal, condition = wide
    return (
        effect == narrow[0]
        and condition in ("{}", narrow[4])
        and principal in ("*", narrow[3])
        and fnmatch.fnmatchcase(narrow[1].lower(), action.lower())
        and fnmatch.fnmatchcase(narrow[2], resource)
    )


def _policy_broadenings(before: Any, after: Any, what: str) -> list[str]:
    old, new = _atoms(before), _atoms(after)
    found = []
    for atom in sorted(new - old):
        effect, action, resource, principal, _condition = atom
        if effect != "Allow" or any(_covers(b, atom) for b in old):
            continue
        if what == "trust":
            found.append(f"trust: can now be assumed by {principal} ({action})")
        else:
            on = f" on {resource}" if resource else ""
            by = f" for {principal}" if principal else ""
            found.append(f"{what} allows {action}{on}{by}")
    for effect, action, resource, _principal, _condition in sorted(old - new):
        if effect == "Deny":
            found.append(f"{what} no longer denies {action} on {resource}")
    return found


def _iam(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    found = _policy_broadenings(
        before.get("AssumeRolePolicyDocument"), after.get("AssumeRolePolicyDocument"), "trust"
    )
    found += _policy_broadenings(
        before.get("PolicyDocument"), after.get("PolicyDocument"), "policy"
    )
    old_inline = {
        p.get("PolicyName"): p.get("PolicyDocument") for p in _list(before.get("Policies"))
    }
    for p in _list(after.get("Policies")):
        name = p.get("PolicyName", "")
        found += _policy_broadenings(
            old_inline.get(name), p.get("PolicyDocument"), f"policy {name}"
        )
    # An ARN may still be an intrinsic function (a dict) where the value is not known yet.
    old_managed = {json.dumps(a, sort_keys=True) for a in _list(before.get("ManagedPolicyArns"))}
    found += [
        f"attaches managed policy {arn}"
        for arn in _list(after.get("ManagedPolicyArns"))
        if json.dumps(arn, sort_keys=True) not in old_managed
    ]
    return found


def _boundary(rtype: str, before: dict[str, Any], after: dict[str, Any], added: bool) -> list[str]:
    """A role or user that loses its permissions boundary, gets another one, or is created
    without one: what it may do is then no longer capped by the boundary it had (or any)."""
    if rtype not in ("AWS::IAM::Role", "AWS::IAM::User"):
        return []
    old, new = before.get("PermissionsBoundary"), after.get("PermissionsBoundary")
    if new is None and added:
        return ["created without a permissions boundary"]
    if old is None or json.dumps(old, sort_keys=True) == json.dumps(new, sort_keys=True):
        return []
    if new is None:
        return [f"removes its permissions boundary (was {old})"]
    return [f"changes its permissions boundary from {old} to {new}"]


# -- security groups ---------------------------------------------------------------------------


def _rule(direction: str, r: dict[str, Any]) -> tuple[str, str, int, int, str] | None:
    peer = next((f"{k}={r[k]}" for k in _PEERS if r.get(k)), "")
    protocol = str(r.get("IpProtocol", "-1")).lower()
    if protocol in ("-1", "all"):
        return (direction, "-1", 0, 65535, peer)
    try:
        low, high = int(r.get("FromPort", 0)), int(r.get("ToPort", 65535))
    except (TypeError, ValueError):
        return None
    if low == -1:  # ICMP "all types"
        low, high = 0, 65535
    return (direction, protocol, low, high, peer)


def _rules(rtype: str, props: dict[str, Any]) -> set[tuple[str, str, int, int, str]]:
    if rtype == "AWS::EC2::SecurityGroupIngress":
        found = [_rule("ingress", props)]
    elif rtype == "AWS::EC2::SecurityGroupEgress":
        found = [_rule("egress", props)]
    else:
        found = [_rule("ingress", r) for r in _list(props.get("SecurityGroupIngress"))]
        found += [_rule("egress", r) for r in _list(props.get("SecurityGroupEgress"))]
    return {r for r in found if r is not None}


def _peer_covers(wide: str, narrow: str) -> bool:
    if wide == narrow:
        return True
    (wk, _, wv), (nk, _, nv) = wide.partition("="), narrow.partition("=")
    if not (wk.startswith("Cidr") and nk.startswith("Cidr")):
        return False
    try:
        w, n = ipaddress.ip_network(wv, strict=False), ipaddress.ip_network(nv, strict=False)
    except ValueError:
        return False
    return w.version == n.version and n.subnet_of(w)  # type: ignore[arg-type]


def _rule_text(r: tuple[str, str, int, int, str]) -> str:
    direction, protocol, low, high, peer = r
    ports = (
        "all traffic"
        if protocol == "-1"
        else f"{protocol} {low}" + (f"-{high}" if high != low else "")
    )
    side = "from" if direction == "ingress" else "to"
    return f"{direction} {ports} {side} {peer.partition('=')[2] or '(any)'}"


def _sg(rtype: str, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    old = _rules(rtype, before)
    found = []
    for r in sorted(_rules(rtype, after) - old):
        if any(
            b[0] == r[0]
            and b[1] in ("-1", r[1])
            and b[2] <= r[2]
            and b[3] >= r[3]
            and _peer_covers(b[4], r[4])
            for b in old
        ):
            continue
        # What it replaces: the rules for the same peer, else the only rules of that direction.
        was = [b for b in old if b[0] == r[0] and b[4] == r[4]]
        was = was or [b for b in old if b[0] == r[0]][: 2 if len(old) <= 2 else 0]
        text = _rule_text(r)
        if r[4].partition("=")[2] in _ANYWHERE:
            text += " (open to the internet)"
        if was:
            text += f" (was {', '.join(_rule_text(b) for b in was)})"
        found.append(text)
    return found


# -- public exposure ---------------------------------------------------------------------------


def _public(rtype: str, before: dict[str, Any], after: dict[str, Any], added: bool) -> list[str]:
    if rtype == "AWS::ElasticLoadBalancingV2::LoadBalancer":
        # A load balancer without a Scheme is internet-facing.
        old = before.get("Scheme", "internet-facing") if not added else "none"
        if after.get("Scheme", "internet-facing") == "internet-facing" != old:
            return ["load balancer is internet-facing"]
    if rtype == "AWS::ECS::Service":

        def public_ip(props: dict[str, Any]) -> str:
            net = props.get("NetworkConfiguration") or {}
            return (net.get("AwsvpcConfiguration") or {}).get("AssignPublicIp", "DISABLED")

        if public_ip(after) == "ENABLED" != public_ip(before):
            return ["tasks get a public IP address (AssignPublicIp ENABLED)"]
    return []


def _from_details(c: Change) -> list[str]:
    """Without before/after contexts: what the property details alone show."""
    found = []
    for d in c.details:
        after = d.after or ""
        leaf = d.path.rsplit("/", 1)[-1]
        if leaf in ("CidrIp", "CidrIpv6") and after in _ANYWHERE:
            found.append(f"{d.path} opens to the internet ({after})")
        elif leaf == "AssignPublicIp" and after == "ENABLED":
            found.append("tasks get a public IP address (AssignPublicIp ENABLED)")
        elif leaf == "Scheme" and after == "internet-facing":
            found.append("load balancer is internet-facing")
        elif c.resource_type.startswith("AWS::IAM::") and any(
            part in d.path for part in ("/Action", "/Resource", "/Principal")
        ):
            if d.change_type == "Add" or "*" in after:
                found.append(f"{d.path} grants {after}")
        elif leaf == "PermissionsBoundary" and d.change_type in ("Remove", "Modify"):
            was = f" (was {d.before})" if d.before else ""
            if d.change_type == "Remove" or not after:
                found.append(f"removes its permissions boundary{was}")
            else:
                found.append(f"changes its permissions boundary{was} to {after}")
        elif leaf in ("FromPort", "ToPort", "IpProtocol") and d.change_type != "Remove":
            found.append(f"{d.path}: {d.before} → {after}")
    return found


def broadenings(c: Change) -> list[str]:
    """One line for each way this change broadens access; empty when it does not."""
    if c.action == "Remove":
        return []
    after = _properties(c.after_context)
    if after is None:
        return _from_details(c) if c.action == "Modify" else []
    before = _properties(c.before_context) or {}
    rtype = c.resource_type
    found: list[str] = []
    if rtype.startswith("AWS::IAM::"):
        found += _iam(before, after)
        found += _boundary(rtype, before, after, added=c.action == "Add")
    if rtype.startswith("AWS::EC2::SecurityGroup"):
        found += _sg(rtype, before, after)
    found += _public(rtype, before, after, added=c.action == "Add")
    return found
