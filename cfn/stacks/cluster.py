"""Cluster template: what the services share.

Builds the ECS cluster `<project>-<env>-cluster` with Container Insights (seed) and the FARGATE
and FARGATE_SPOT capacity providers (the default strategy from config); the Cloud Map private DNS
namespace (`insightxi.local`, seed) in the VPC; and the services' security group. Its egress is
HTTPS to anywhere (ECR, Secrets Manager, CloudWatch Logs, the SportMonks API, through the NAT)
and the service ports inside the VPC (service-to-service calls); its ingress is the service
ports from the ALB's security group and from itself, as one port range (see
`service_port_range`: one rule per port would not scale past 30 services). The environment's
audit trails (`cfn.stacks.audit`) live here too: the customer managed KMS key that encrypts
every log group, and the VPC flow logs with their log group and role (the cluster stack is the
first that has the VPC and comes before every service).

Outputs: ClusterName, ClusterArn, NamespaceId, NamespaceArn, ServiceSecurityGroupId, and
LogsKeyArn with KMS log encryption.
"""

from __future__ import annotations

from troposphere import GetAtt, Parameter, Ref, Template, ec2, ecs, servicediscovery

from cfn import naming
from cfn.config import Environment
from cfn.stacks import audit
from cfn.stacks._common import (
    add_output,
    add_parameter,
    new_template,
    retain_policies,
    service_port_range,
)


def capacity_provider_strategy(env: Environment) -> list[dict[str, object]]:
    """FARGATE always carries the base of one task; FARGATE_SPOT takes a share if config says."""
    strategy: list[dict[str, object]] = [{"CapacityProvider": "FARGATE", "Base": 1, "Weight": 1}]
    if env.fargate_spot_weight:
        strategy.append({"CapacityProvider": "FARGATE_SPOT", "Weight": env.fargate_spot_weight})
    return strategy


def ecs_cluster(env: Environment) -> ecs.Cluster:
    return ecs.Cluster(
        "Cluster",
        ClusterName=naming.cluster(env),
        ClusterSettings=[ecs.ClusterSetting(Name="containerInsights", Value="enabled")],
        CapacityProviders=["FARGATE", "FARGATE_SPOT"],
        DefaultCapacityProviderStrategy=[
            ecs.CapacityProviderStrategyItem(**item) for item in capacity_provider_strategy(env)
        ],
        Tags=naming.tags(env),
    )


def namespace(env: Environment, vpc_id: Parameter) -> servicediscovery.PrivateDnsNamespace:
    return servicediscovery.PrivateDnsNamespace(
        "Namespace",
        Name=env.discovery_namespace,
        Vpc=Ref(vpc_id),
        Description=f"Service discovery for InsightXI {env.name}",
        Tags=naming.tags(env),
        **retain_policies(env),
    )


def service_security_group(
    env: Environment, vpc_id: Parameter, vpc_cidr: Parameter
) -> ec2.SecurityGroup:
    """Out: HTTPS anywhere, the service ports inside the VPC. In: see `service_ingress`."""
    low, high = service_port_range(env)
    egress = [
        ec2.SecurityGroupRule(
            IpProtocol="tcp",
            FromPort=443,
            ToPort=443,
            CidrIp="0.0.0.0/0",
            Description="HTTPS to AWS APIs and external APIs",
        ),
        ec2.SecurityGroupRule(
            IpProtocol="tcp",
            FromPort=low,
            ToPort=high,
            CidrIp=Ref(vpc_cidr),
            Description="to the other services",
        ),
    ]
    return ec2.SecurityGroup(
        "ServiceSecurityGroup",
        GroupDescription=f"{naming.prefix(env)} ECS tasks: from the ALB and each other only",
        VpcId=Ref(vpc_id),
        SecurityGroupEgress=egress,
        Tags=naming.tags(env, name=f"{naming.prefix(env)}-services"),
    )


def service_ingress(
    env: Environment, sg: ec2.SecurityGroup, alb_sg: Parameter
) -> list[ec2.SecurityGroupIngress]:
    """The service ports are open to the ALB and to the tasks themselves, nothing else."""
    low, high = service_port_range(env)
    sources = (
        ("IngressFromLoadBalancer", alb_sg, "service ports from the load balancer"),
        ("IngressFromServices", sg, "service ports from the other services"),
    )
    return [
        ec2.SecurityGroupIngress(
            title,
            GroupId=Ref(sg),
            IpProtocol="tcp",
            FromPort=low,
            ToPort=high,
            SourceSecurityGroupId=Ref(source),
            Description=description,
        )
        for title, source, description in sources
    ]


def build(env: Environment) -> Template:
    t = new_template(env, "cluster (ECS cluster, Cloud Map namespace, services' security group)")
    vpc_id = add_parameter(t, "VpcId", "VPC of the environment", type_="AWS::EC2::VPC::Id")
    vpc_cidr = add_parameter(t, "VpcCidr", "IPv4 CIDR block of the VPC")
    alb_sg = add_parameter(
        t,
        "LoadBalancerSecurityGroupId",
        "Security group of the load balancer",
        type_="AWS::EC2::SecurityGroup::Id",
    )
    cluster = t.add_resource(ecs_cluster(env))
    ns = t.add_resource(namespace(env, vpc_id))
    sg = t.add_resource(service_security_group(env, vpc_id, vpc_cidr))
    for rule in service_ingress(env, sg, alb_sg):
        t.add_resource(rule)

    key = t.add_resource(audit.logs_key(env)) if env.kms_log_encryption else None
    if env.flow_logs:
        for resource in audit.flow_logs(env, vpc_id, key):
            t.add_resource(resource)

    add_output(t, "ClusterName", Ref(cluster), "Name of the ECS cluster")
    add_output(t, "ClusterArn", GetAtt(cluster, "Arn"), "ARN of the ECS cluster")
    add_output(t, "NamespaceId", GetAtt(ns, "Id"), "ID of the Cloud Map namespace")
    add_output(t, "NamespaceArn", GetAtt(ns, "Arn"), "ARN of the Cloud Map namespace")
    add_output(t, "ServiceSecurityGroupId", Ref(sg), "Security group of the services' tasks")
    if key is not None:
        add_output(t, naming.LOGS_KEY_PARAMETER, GetAtt(key, "Arn"), "KMS key of the log groups")
    return t
