"""What keeps the service running: the ECS service (private subnets, no public IP, circuit
breaker with rollback, registered with the target group and Cloud Map) and its CPU
target-tracking autoscaling between the config's bounds."""

from __future__ import annotations

from troposphere import AWSObject, GetAtt, Ref, Sub, applicationautoscaling, ecs
from troposphere import elasticloadbalancingv2 as elb
from troposphere import servicediscovery as sd

from cfn import naming
from cfn.config import Environment, Service
from cfn.stacks.cluster import capacity_provider_strategy
from cfn.stacks.service.inputs import Inputs


def ecs_service(
    env: Environment,
    service: Service,
    inputs: Inputs,
    task: ecs.TaskDefinition,
    routing: tuple[elb.TargetGroup, elb.ListenerRule],
    discovery: sd.Service,
) -> ecs.Service:
    size = env.sizing_of(service)
    targets, rule = routing
    # With autoscaling, DesiredCount is left out: on create ECS starts one task and the scalable
    # target's minimum raises it; on update the running count is kept, so a deploy does not
    # reset a scaled-out service.
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ecs-service.html
    count = {} if size.autoscaling else {"DesiredCount": size.desired_count}
    return ecs.Service(
        "Service",
        # The target group must be attached to the listener before ECS registers tasks.
        DependsOn=[rule.title],
        ServiceName=naming.ecs_service(env, service),
        Cluster=Ref(inputs.cluster),
        TaskDefinition=Ref(task),
        CapacityProviderStrategy=[
            ecs.CapacityProviderStrategyItem(**item) for item in capacity_provider_strategy(env)
        ],
        PlatformVersion="LATEST",
        NetworkConfiguration=ecs.NetworkConfiguration(
            AwsvpcConfiguration=ecs.AwsvpcConfiguration(
                AssignPublicIp="DISABLED",
                Subnets=Ref(inputs.subnets),
                SecurityGroups=[Ref(inputs.security_group)],
            )
        ),
        LoadBalancers=[
            ecs.LoadBalancer(
                ContainerName=service.name, ContainerPort=service.port, TargetGroupArn=Ref(targets)
            )
        ],
        ServiceRegistries=[ecs.ServiceRegistry(RegistryArn=GetAtt(discovery, "Arn"))],
        HealthCheckGracePeriodSeconds=size.health_check_grace_seconds,
        DeploymentConfiguration=ecs.DeploymentConfiguration(
            DeploymentCircuitBreaker=ecs.DeploymentCircuitBreaker(Enable=True, Rollback=True),
            MaximumPercent=200,
            MinimumHealthyPercent=100,
        ),
        PropagateTags="SERVICE",
        EnableECSManagedTags=True,
        Tags=naming.tags(env, service),
        **count,
    )


def autoscaling(env: Environment, service: Service) -> list[AWSObject]:
    """CPU target tracking on the ECS service's desired count; nothing if config turns it off."""
    size = env.sizing_of(service)
    if not size.autoscaling:
        return []
    target = applicationautoscaling.ScalableTarget(
        "ScalableTarget",
        ServiceNamespace="ecs",
        ScalableDimension="ecs:service:DesiredCount",
        ResourceId=Sub("service/${ClusterName}/${Service.Name}"),
        MinCapacity=size.min_count,
        MaxCapacity=size.max_count,
        # No RoleARN: Application Auto Scaling uses its service-linked role.
    )
    tracking = applicationautoscaling.TargetTrackingScalingPolicyConfiguration(
        PredefinedMetricSpecification=applicationautoscaling.PredefinedMetricSpecification(
            PredefinedMetricType="ECSServiceAverageCPUUtilization"
        ),
        TargetValue=float(size.cpu_target_percent),
        ScaleInCooldown=size.scale_in_cooldown_seconds,
        ScaleOutCooldown=size.scale_out_cooldown_seconds,
    )
    policy = applicationautoscaling.ScalingPolicy(
        "CpuScalingPolicy",
        PolicyName=f"{naming.ecs_service(env, service)}-cpu",
        PolicyType="TargetTrackingScaling",
        ScalingTargetId=Ref(target),
        TargetTrackingScalingPolicyConfiguration=tracking,
    )
    return [target, policy]
