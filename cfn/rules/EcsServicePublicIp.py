"""E9004: an ECS service must not give its tasks public IP addresses."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn.rules._resolve import resolve, resources


class EcsServicePublicIp(CloudFormationLintRule):
    id = "E9004"
    shortdesc = "ECS tasks get no public IP"
    description = (
        "AssignPublicIp ENABLED puts every task on the internet, reachable around the load "
        "balancer. Run tasks in private subnets with AssignPublicIp DISABLED; outbound traffic "
        "goes through a NAT gateway."
    )
    source_url = (
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-task-networking.html"
    )
    tags = ["resources", "ecs", "security", "network"]

    def match(self, cfn):
        matches = []
        for name, props in resources(cfn.template, "AWS::ECS::Service", "AWS::ECS::TaskSet"):
            net = props.get("NetworkConfiguration")
            cfg = net.get("AwsvpcConfiguration") if isinstance(net, dict) else None
            if not isinstance(cfg, dict) or "AssignPublicIp" not in cfg:
                continue
            if (resolve(cfn.template, cfg["AssignPublicIp"]) or "").upper() == "ENABLED":
                path = [
                    "Resources",
                    name,
                    "Properties",
                    "NetworkConfiguration",
                    "AwsvpcConfiguration",
                    "AssignPublicIp",
                ]
                matches.append(
                    RuleMatch(path, f"ECS service {name} assigns public IPs to its tasks")
                )
        return matches
