"""What the service runs: its log group and its Fargate task definition.

The single container runs the image from the service's ECR repository at the tag given as the
`ImageTag` parameter (never `latest`), with plain environment variables from config, secrets from
Secrets Manager by name (never a value), the discovery URLs of the services it depends on, and
awslogs into the service's log group (encrypted with the environment's KMS key unless config
opts out). The container is hardened: it runs as the config's non-root `user`, on a read-only
root filesystem with a task volume mounted at each of the service's `writable_paths`, and with
a memory hard limit (the task's memory).
"""

from __future__ import annotations

from troposphere import GetAtt, Parameter, Ref, Sub, ecs, iam, logs

from cfn import naming, policies
from cfn.config import Environment, Service
from cfn.stacks._common import retain_policies
from cfn.stacks.audit import log_group_metadata


def log_group(env: Environment, service: Service, key: Parameter | None) -> logs.LogGroup:
    """`/ecs/<project>-<env>/<service>`, kept for the environment's retention, encrypted with
    the environment's key (`key`: None when config opts out)."""
    encrypted = {"KmsKeyId": Ref(key)} if key is not None else {}
    return logs.LogGroup(
        "LogGroup",
        LogGroupName=naming.log_group(env, service),
        RetentionInDays=env.log_retention_days,
        Tags=naming.tags(env, service),
        **encrypted,
        **log_group_metadata(env),
        **retain_policies(env),
    )


def volume_name(path: str) -> str:
    """The task volume mounted at `path`: `/var/cache/app` -> `writable-var-cache-app`."""
    return "writable-" + "".join(c if c.isalnum() else "-" for c in path.strip("/")).lower()


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
        User=service.user,
        ReadonlyRootFilesystem=True,
        # The hard limit: the container is stopped rather than the task starved.
        Memory=env.sizing_of(service).memory,
        MountPoints=[
            ecs.MountPoint(SourceVolume=volume_name(p), ContainerPath=p, ReadOnly=False)
            for p in service.writable_paths
        ],
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
        # Fargate task storage, private to the task: the only places the container writes.
        Volumes=[ecs.Volume(Name=volume_name(p)) for p in service.writable_paths],
        Tags=naming.tags(env, service),
    )
