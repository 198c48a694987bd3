"""Service template: one containerised HTTP service on Fargate. The same builder for every
service; the differences come from the config only.

Builds, for one service of one environment:
- the log group `/ecs/<project>-<env>/<service>` with the environment's retention;
- the execution role (ECS pulls the image, writes logs, reads exactly this service's secrets)
  and the task role (what the application itself may do: only what config lists), both trusting
  `ecs-tasks.amazonaws.com` for this account only;
- the Fargate task definition: the image from the service's ECR repository at the tag given as
  a parameter (never `latest`), plain environment variables from config, secrets from Secrets
  Manager by name (never a value), the discovery URLs of the services it depends on, awslogs;
- the target group (`ip` targets, health check from config) and the listener rule (path
  patterns, priority from config);
- the Cloud Map service (A record, TTL 10) and the ECS service (private subnets, no public IP,
  circuit breaker with rollback, registered with the target group and Cloud Map);
- CPU target-tracking autoscaling between the config's bounds.

Outputs: ServiceName, TargetGroupArn, LogGroupName, DiscoveryHost.
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, Template, applicationautoscaling, ecs, iam, logs
from troposphere import elasticloadbalancingv2 as elb
from troposphere import servicediscovery as sd

from cfn import naming, policies
from cfn.config import Environment, Service
from cfn.stacks._common import add_output, add_parameter, new_template, retain_policies
from cfn.stacks.cluster import capacity_provider_strategy

IMAGE_TAG_PATTERN = naming.IMAGE_TAG_PATTERN  # one source: naming (root and plan import it here)
DISCOVERY_TTL_SECONDS = 10


def container_environment(env: Environment, service: Service) -> dict[str, str]:
    """Plain environment variables: config's, plus a URL per service this one depends on."""
    variables = dict(service.environment)
    for dep_name in service.depends_on:
        dep = env.service(dep_name)
        variables[naming.discovery_url_variable(dep)] = (
            f"http://{naming.discovery_host(env, dep)}:{dep.port}"
        )
    return dict(sorted(variables.items()))


def build(env: Environment, service: Service) -> Template:
    size = env.sizing_of(service)
    t = new_template(env, f"service {service.name} (Fargate, ALB target, discovery, scaling)")

    add_parameter(
        t,
        "ImageTag",
        f"Tag of the {service.repository} image to run (a git sha; never latest)",
        AllowedPattern=IMAGE_TAG_PATTERN,
        ConstraintDescription="an ECR image tag other than 'latest'",
    )
    cluster = add_parameter(t, "ClusterName", "Name of the ECS cluster")
    vpc_id = add_parameter(t, "VpcId", "VPC of the environment", type_="AWS::EC2::VPC::Id")
    subnets = add_parameter(
        t,
        "PrivateSubnetIds",
        "Private subnets the tasks run in",
        type_="List<AWS::EC2::Subnet::Id>",
    )
    service_sg = add_parameter(
        t,
        "ServiceSecurityGroupId",
        "Security group of the services' tasks",
        type_="AWS::EC2::SecurityGroup::Id",
    )
    listener = add_parameter(t, "ListenerArn", "Listener the service's rule is attached to")
    namespace = add_parameter(t, "NamespaceId", "Cloud Map namespace the service registers in")

    tags = naming.tags(env, service)
    log_group = t.add_resource(
        logs.LogGroup(
            "LogGroup",
            LogGroupName=naming.log_group(env, service),
            RetentionInDays=env.log_retention_days,
            Tags=tags,
            **retain_policies(env),
        )
    )

    secret_names = [naming.secret(env, service, v) for v in service.secrets]
    execution_role = t.add_resource(
        iam.Role(
            "ExecutionRole",
            RoleName=naming.execution_role(env, service),
            Description=f"ECS starts {service.name} ({env.name}): image, logs, its secrets",
            AssumeRolePolicyDocument=policies.ecs_tasks_trust(),
            ManagedPolicyArns=[policies.TASK_EXECUTION_MANAGED_POLICY],
            Policies=(
                [
                    iam.Policy(
                        PolicyName="read-own-secrets",
                        PolicyDocument=policies.read_secrets(secret_names),
                    )
                ]
                if secret_names
                else []
            ),
            Tags=tags,
        )
    )
    task_role = t.add_resource(
        iam.Role(
            "TaskRole",
            RoleName=naming.task_role(env, service),
            Description=f"The {service.name} application ({env.name}): only what config grants",
            AssumeRolePolicyDocument=policies.ecs_tasks_trust(),
            Policies=(
                [
                    iam.Policy(
                        PolicyName="application",
                        PolicyDocument=policies.task_permissions(
                            service.task_role_actions, service.task_role_resources
                        ),
                    )
                ]
                if service.task_role_actions
                else []
            ),
            Tags=tags,
        )
    )

    container = ecs.ContainerDefinition(
        Name=service.name,
        Image=Sub(f"{naming.image_repository_uri(service)}:${{ImageTag}}"),
        Essential=True,
        PortMappings=[ecs.PortMapping(ContainerPort=service.port, Protocol="tcp", Name="http")],
        Environment=[
            ecs.Environment(Name=k, Value=v) for k, v in container_environment(env, service).items()
        ],
        Secrets=[
            ecs.Secret(
                Name=var, ValueFrom=policies.secret_reference(naming.secret(env, service, var))
            )
            for var in sorted(service.secrets)
        ],
        LogConfiguration=ecs.LogConfiguration(
            LogDriver="awslogs",
            Options={
                "awslogs-group": Ref(log_group),
                "awslogs-region": Ref("AWS::Region"),
                "awslogs-stream-prefix": "ecs",
            },
        ),
    )
    task = t.add_resource(
        ecs.TaskDefinition(
            "TaskDefinition",
            Family=naming.task_family(env, service),
            Cpu=str(size.cpu),
            Memory=str(size.memory),
            NetworkMode="awsvpc",
            RequiresCompatibilities=["FARGATE"],
            ExecutionRoleArn=GetAtt(execution_role, "Arn"),
            TaskRoleArn=GetAtt(task_role, "Arn"),
            ContainerDefinitions=[container],
            Tags=tags,
        )
    )

    target_group = t.add_resource(
        elb.TargetGroup(
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
            Tags=tags,
        )
    )
    rule = t.add_resource(
        elb.ListenerRule(
            "ListenerRule",
            ListenerArn=Ref(listener),
            Priority=service.listener_priority,
            Conditions=[
                elb.Condition(
                    Field="path-pattern",
                    PathPatternConfig=elb.PathPatternConfig(Values=list(service.path_patterns)),
                )
            ],
            Actions=[elb.ListenerRuleAction(Type="forward", TargetGroupArn=Ref(target_group))],
        )
    )

    discovery = t.add_resource(
        sd.Service(
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
            Tags=tags,
        )
    )

    ecs_service_props: dict[str, object] = {}
    if not size.autoscaling:
        ecs_service_props["DesiredCount"] = size.desired_count
    # With autoscaling, DesiredCount is left out: on create ECS starts one task and the scalable
    # target's minimum raises it; on update the running count is kept, so a deploy does not
    # reset a scaled-out service.
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ecs-service.html
    svc = t.add_resource(
        ecs.Service(
            "Service",
            # The target group must be attached to the listener before ECS registers tasks.
            DependsOn=[rule.title],
            ServiceName=naming.ecs_service(env, service),
            Cluster=Ref(cluster),
            TaskDefinition=Ref(task),
            CapacityProviderStrategy=[
                ecs.CapacityProviderStrategyItem(**item) for item in capacity_provider_strategy(env)
            ],
            PlatformVersion="LATEST",
            NetworkConfiguration=ecs.NetworkConfiguration(
                AwsvpcConfiguration=ecs.AwsvpcConfiguration(
                    AssignPublicIp="DISABLED",
                    Subnets=Ref(subnets),
                    SecurityGroups=[Ref(service_sg)],
                )
            ),
            LoadBalancers=[
                ecs.LoadBalancer(
                    ContainerName=service.name,
                    ContainerPort=service.port,
                    TargetGroupArn=Ref(target_group),
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
            Tags=tags,
            **ecs_service_props,
        )
    )

    if size.autoscaling:
        target = t.add_resource(
            applicationautoscaling.ScalableTarget(
                "ScalableTarget",
                ServiceNamespace="ecs",
                ScalableDimension="ecs:service:DesiredCount",
                ResourceId=Sub("service/${ClusterName}/${Service.Name}"),
                MinCapacity=size.min_count,
                MaxCapacity=size.max_count,
                # No RoleARN: Application Auto Scaling uses its service-linked role.
            )
        )
        t.add_resource(
            applicationautoscaling.ScalingPolicy(
                "CpuScalingPolicy",
                PolicyName=f"{naming.ecs_service(env, service)}-cpu",
                PolicyType="TargetTrackingScaling",
                ScalingTargetId=Ref(target),
                TargetTrackingScalingPolicyConfiguration=applicationautoscaling.TargetTrackingScalingPolicyConfiguration(
                    PredefinedMetricSpecification=applicationautoscaling.PredefinedMetricSpecification(
                        PredefinedMetricType="ECSServiceAverageCPUUtilization"
                    ),
                    TargetValue=float(size.cpu_target_percent),
                    ScaleInCooldown=size.scale_in_cooldown_seconds,
                    ScaleOutCooldown=size.scale_out_cooldown_seconds,
                ),
            )
        )

    add_output(t, "ServiceName", GetAtt(svc, "Name"), "Name of the ECS service")
    add_output(t, "TargetGroupArn", Ref(target_group), "ARN of the service's target group")
    add_output(t, "LogGroupName", Ref(log_group), "Log group of the service's containers")
    add_output(
        t,
        "DiscoveryHost",
        naming.discovery_host(env, service),
        "Host name other services reach this one by",
    )
    return t
