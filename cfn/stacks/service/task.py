"""What the service runs: its log group and its Fargate task definition.

The single container runs the image from the service's ECR repository at the tag given as the
`ImageTag` parameter (never `latest`), with plain environment variables from config, secrets from
Secrets Manager by name (never a value), the discovery URLs of the services it depends on, and
awslogs into the service's log group.
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, ecs, iam, logs

from cfn import naming, policies
from cfn.config import Environment, Service
from cfn.stacks._common import retain_policies


def log_group(env: Environment, service: Service) -> logs.LogGroup:
    """`/ecs/<project>-<env>/<service>`, kept for the environment's retention."""
    return logs.LogGroup(
        "LogGroup",
        LogGroupName=naming.log_group(env, service),
        RetentionInDays=env.log_retention_days,
        Tags=naming.tags(env, service),
        **retain_policies(env),
    )


def container_environment(env: Environment, service: Service) -> dict[str, str]:
    """Plain environment variables: config's, plus a URL per service this one depends on."""
    variables = dict(service.environment)
    for dep_name in service.depends_on:
        dep = env.service(dep_name)
        variables[naming.discovery_url_variable(dep)] = (
            f"http://{naming.discovery_host(env, dep)}:{dep.port}"
        )
    return dict(sorted(variables.items()))


def container_definition(
    env: Environment, service: Service, logs_to: logs.LogGroup
) -> ecs.ContainerDefinition:
    return ecs.ContainerDefinition(
        Name=service.name,
        Image=Sub(f"{naming.image_repository_uri(service)}:${{ImageTag}}"),
        Essential=True,
        PortMappings=[ecs.PortMapping(ContainerPort=service.port, Protocol="tcp", Name="http")],
        Environment=[
            ecs.Environment(Name=k, Value=v) for k, v in container_environment(env, service).items()
        ],
        # By name only: ECS reads the values at task start, the template never holds them.
        Secrets=[
            ecs.Secret(
                Name=var, ValueFrom=policies.secret_reference(naming.secret(env, service, var))
            )
            for var in sorted(service.secrets)
        ],
        LogConfiguration=ecs.LogConfiguration(
            LogDriver="awslogs",
            Options={
                "awslogs-group": Ref(logs_to),
                "awslogs-region": Ref("AWS::Region"),
                "awslogs-stream-prefix": "ecs",
            },
        ),
    )


def task_definition(
    env: Environment,
    service: Service,
    logs_to: logs.LogGroup,
    execution: iam.Role,
    application: iam.Role,
) -> ecs.TaskDefinition:
    """Fargate, sized from config, run with the execution role and as the task role."""
    size = env.sizing_of(service)
    return ecs.TaskDefinition(
        "TaskDefinition",
        Family=naming.task_family(env, service),
        Cpu=str(size.cpu),
        Memory=str(size.memory),
        NetworkMode="awsvpc",
        RequiresCompatibilities=["FARGATE"],
        ExecutionRoleArn=GetAtt(execution, "Arn"),
        TaskRoleArn=GetAtt(application, "Arn"),
        ContainerDefinitions=[container_definition(env, service, logs_to)],
        Tags=naming.tags(env, service),
    )
