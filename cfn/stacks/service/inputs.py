"""The service template's parameters: its image tag, and what the root stack passes in from the
network, edge and cluster stacks (with KMS log encryption, the key of the log group)."""

from __future__ import annotations

from typing import NamedTuple

from troposphere import Parameter, Template

from cfn import naming
from cfn.config import Environment, Service
from cfn.stacks._common import add_parameter


class Inputs(NamedTuple):
    """The parameters the resources refer to (the image tag is read through `Fn::Sub`)."""

    cluster: Parameter
    vpc_id: Parameter
    subnets: Parameter
    security_group: Parameter
    listener: Parameter
    namespace: Parameter
    load_balancer: Parameter
    logs_key: Parameter | None


def parameters(t: Template, env: Environment, service: Service) -> Inputs:
    """Declare the parameters on `t`."""
    add_parameter(
        t,
        "ImageTag",
        f"Tag of the {service.repository} image to run (a git sha; never latest)",
        AllowedPattern=naming.IMAGE_TAG_PATTERN,
        ConstraintDescription="an ECR image tag other than 'latest'",
    )
    return Inputs(
        cluster=add_parameter(t, "ClusterName", "Name of the ECS cluster"),
        vpc_id=add_parameter(t, "VpcId", "VPC of the environment", type_="AWS::EC2::VPC::Id"),
        subnets=add_parameter(
            t,
            "PrivateSubnetIds",
            "Private subnets the tasks run in",
            type_="List<AWS::EC2::Subnet::Id>",
        ),
        security_group=add_parameter(
            t,
            "ServiceSecurityGroupId",
            "Security group of the services' tasks",
            type_="AWS::EC2::SecurityGroup::Id",
        ),
        listener=add_parameter(t, "ListenerArn", "Listener the service's rule is attached to"),
        namespace=add_parameter(t, "NamespaceId", "Cloud Map namespace the service registers in"),
        load_balancer=add_parameter(
            t, "LoadBalancerFullName", "Full name of the load balancer (alarm dimension)"
        ),
        logs_key=add_parameter(t, naming.LOGS_KEY_PARAMETER, "KMS key of the log group")
        if env.kms_log_encryption
        else None,
    )
