"""E9016: in a protected environment, an HTTP listener only redirects to HTTPS."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn.rules._resolve import as_list, project_metadata, resources


def _redirects_to_https(action: object) -> bool:
    if not isinstance(action, dict) or action.get("Type") != "redirect":
        return False
    config = action.get("RedirectConfig")
    return isinstance(config, dict) and config.get("Protocol") == "HTTPS"


class HttpListenerRedirects(CloudFormationLintRule):
    id = "E9016"
    shortdesc = "Protected environments serve HTTP only as a redirect to HTTPS"
    description = (
        "When the template's Metadata sets InsightXI.Protected, every HTTP listener's default "
        "action redirects to HTTPS: nothing reaches a service in plain text."
    )
    source_url = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-update-rules.html"
    tags = ["resources", "elasticloadbalancing", "security", "tls"]

    def match(self, cfn):
        if project_metadata(cfn.template).get("Protected") is not True:
            return []
        matches = []
        for name, props in resources(cfn.template, "AWS::ElasticLoadBalancingV2::Listener"):
            if props.get("Protocol") != "HTTP":
                continue
            actions = as_list(props.get("DefaultActions") or [])
            if not actions or not all(_redirects_to_https(a) for a in actions):
                matches.append(
                    RuleMatch(
                        ["Resources", name, "Properties", "DefaultActions"],
                        f"HTTP listener {name} must only redirect to HTTPS in a protected "
                        "environment",
                    )
                )
        return matches
