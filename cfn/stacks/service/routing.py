"""How requests reach the service: from the load balancer (target group and listener rule) and
from the other services (its Cloud Map name)."""

from __future__ import annotations

from troposphere import Parameter, Ref
from troposphere import elasticloadbalancingv2 as elb
from troposphere import servicediscovery as sd

from cfn import naming
from cfn.config import Environment, Service

DISCOVERY_TTL_SECONDS = 10


def target_group(env: Environment, service: Service, vpc_id: Parameter) -> elb.TargetGroup:
    """`ip` targets (Fargate tasks), health-checked as config says."""
    size = env.sizing_of(service)
    return elb.TargetGroup(
        "TargetGroup",
        Name=naming.target_group(env, service),
        TargetType="ip",
        Protocol="HTTP",
        Port=service.port,
        VpcId=Ref(vpc_id),
        HealthCheckEnabled=True,
        HealthCheckProtocol="HTTP",
        HealthCheckPath=service.health_check_path,
        HealthCheckIntervalSeconds=size.health_check_interval_seconds,
        HealthCheckTimeoutSeconds=size.health_check_timeout_seconds,
        HealthyThresholdCount=size.healthy_threshold,
        UnhealthyThresholdCount=size.unhealthy_threshold,
        Matcher=elb.Matcher(HttpCode="200-399"),
        TargetGroupAttributes=[
            elb.TargetGroupAttribute(
                Key="deregistration_delay.timeout_seconds",
                Value=str(size.deregistration_delay_seconds),
            )
        ],
        Tags=naming.tags(env, service),
    )


def listener_rule(
    service: Service, listener: Parameter, targets: elb.TargetGroup
) -> elb.ListenerRule:
    """The service's path patterns, at its priority, forwarded to its target group."""
    return elb.ListenerRule(
        "ListenerRule",
        ListenerArn=Ref(listener),
        Priority=service.listener_priority,
        Conditions=[
            elb.Condition(
                Field="path-pattern",
                PathPatternConfig=elb.PathPatternConfig(Values=list(service.path_patterns)),
            )
        ],
        Actions=[elb.ListenerRuleAction(Type="forward", TargetGroupArn=Ref(targets))],
    )


def discovery_service(env: Environment, service: Service, namespace: Parameter) -> sd.Service:
    """`<discovery_name>.<namespace>`: an A record per healthy task."""
    return sd.Service(
        "DiscoveryService",
        Name=service.discovery_name,
        Description=f"{service.name}: {naming.discovery_host(env, service)}",
        NamespaceId=Ref(namespace),
        DnsConfig=sd.DnsConfig(
            DnsRecords=[sd.DnsRecord(Type="A", TTL=DISCOVERY_TTL_SECONDS)],
            RoutingPolicy="MULTIVALUE",
        ),
        # ECS reports task health to Cloud Map: unhealthy tasks leave DNS.
        HealthCheckCustomConfig=sd.HealthCheckCustomConfig(FailureThreshold=1),
        Tags=naming.tags(env, service),
    )
