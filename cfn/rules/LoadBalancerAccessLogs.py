"""E9015: an application load balancer writes access logs."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn.rules._resolve import as_list, opted_out, resources

ENABLED = "access_logs.s3.enabled"


class LoadBalancerAccessLogs(CloudFormationLintRule):
    id = "E9015"
    shortdesc = "Load balancers write access logs"
    description = (
        "Without access logs nobody can tell afterwards who called what. Set the attribute "
        "access_logs.s3.enabled to true (with access_logs.s3.bucket), or record the opt-out in "
        "the template's Metadata (InsightXI.OptOuts.AccessLogs with the reason)."
    )
    source_url = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html"
    tags = ["resources", "elasticloadbalancing", "security", "logging"]

    def match(self, cfn):
        if opted_out(cfn.template, "AccessLogs"):
            return []
        matches = []
        for name, props in resources(cfn.template, "AWS::ElasticLoadBalancingV2::LoadBalancer"):
            if props.get("Type", "application") != "application":
                continue
            attributes = {
                a.get("Key"): a.get("Value")
                for a in as_list(props.get("LoadBalancerAttributes") or [])
                if isinstance(a, dict)
            }
            if str(attributes.get(ENABLED)).lower() != "true":
                matches.append(
                    RuleMatch(
                        ["Resources", name],
                        f"Load balancer {name} writes no access logs ({ENABLED} is not true)",
                    )
                )
        return matches
