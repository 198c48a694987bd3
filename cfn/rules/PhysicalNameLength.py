"""E9009: physical names must fit AWS's limits (where the template alone gives the name)."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn.naming import LIMITS
from cfn.rules._resolve import resolve, resources

# resource type -> (name property, what it is: a key of the AWS name limits in `cfn.naming`)
NAMED = {
    "AWS::ElasticLoadBalancingV2::LoadBalancer": ("Name", "load balancer"),
    "AWS::ElasticLoadBalancingV2::TargetGroup": ("Name", "target group"),
    "AWS::IAM::Role": ("RoleName", "IAM role"),
    "AWS::Logs::LogGroup": ("LogGroupName", "log group"),
    "AWS::ECS::Cluster": ("ClusterName", "ECS cluster"),
    "AWS::ECS::Service": ("ServiceName", "ECS service"),
}


class PhysicalNameLength(CloudFormationLintRule):
    id = "E9009"
    shortdesc = "Physical names within AWS's length limits"
    description = (
        "A name longer than AWS allows (load balancer and target group 32 characters, IAM role "
        "64, log group 512, ECS cluster and service 255) fails only at deploy time, half-way "
        "through a stack update. Names built with Ref/Fn::Sub from parameter defaults are "
        "checked too."
    )
    source_url = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html"
    tags = ["resources", "limits", "naming"]

    def match(self, cfn):
        matches = []
        for rtype, (prop, what) in NAMED.items():
            limit = LIMITS[what]
            for name, props in resources(cfn.template, rtype):
                if prop not in props:
                    continue
                value = resolve(cfn.template, props[prop])
                if value is not None and len(value) > limit:
                    matches.append(
                        RuleMatch(
                            ["Resources", name, "Properties", prop],
                            (
                                f"{what} name {value!r} is {len(value)} characters; AWS allows {limit}"
                            ),
                        )
                    )
        return matches
