"""E9005: only HTTP and HTTPS may be open to the whole internet."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn.rules._resolve import resolve, resources

OPEN = {"0.0.0.0/0", "::/0"}
ALLOWED_PORTS = {80, 443}


def _port(template, value) -> int | None:
    text = resolve(template, value)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


class OpenIngress(CloudFormationLintRule):
    id = "E9005"
    shortdesc = "Internet ingress only on 80 and 443"
    description = (
        "A security group rule open to 0.0.0.0/0 or ::/0 on any port other than 80 or 443 "
        "(or on all protocols) exposes that port to the internet. Allow the source that needs "
        "it (a security group, a CIDR) instead."
    )
    source_url = "https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html"
    tags = ["resources", "ec2", "security", "network"]

    def _check(self, cfn, rule, path, name):
        if not isinstance(rule, dict):
            return []
        source = None
        for key in ("CidrIp", "CidrIpv6"):
            if key in rule:
                source = resolve(cfn.template, rule[key])
        if source not in OPEN:
            return []
        protocol = (resolve(cfn.template, rule.get("IpProtocol")) or "").lower()
        if protocol in ("-1", "all"):
            return [RuleMatch(path, f"{name}: all protocols and ports are open to {source}")]
        low, high = (
            _port(cfn.template, rule.get("FromPort")),
            _port(cfn.template, rule.get("ToPort")),
        )
        if low is None or high is None:
            return []
        if low == high and low in ALLOWED_PORTS and protocol in ("tcp", "6"):
            return []
        ports = str(low) if low == high else f"{low}-{high}"
        return [
            RuleMatch(
                path, f"{name}: port {ports}/{protocol} is open to {source}; only 80 and 443 may be"
            )
        ]

    def match(self, cfn):
        matches = []
        for name, props in resources(cfn.template, "AWS::EC2::SecurityGroup"):
            rules = props.get("SecurityGroupIngress")
            for i, rule in enumerate(rules if isinstance(rules, list) else []):
                path = ["Resources", name, "Properties", "SecurityGroupIngress", i]
                matches += self._check(cfn, rule, path, name)
        for name, props in resources(cfn.template, "AWS::EC2::SecurityGroupIngress"):
            matches += self._check(cfn, props, ["Resources", name, "Properties"], name)
        return matches
