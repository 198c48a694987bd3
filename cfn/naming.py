"""Every name the platform uses, from one place.

Stack names, physical resource names, nested-stack logical ids, parameter and output names,
template file names, secret names, discovery host names and tags are all built here, so that a
rename is one change, and `cfn.validation` can prove from `physical_names` and `LIMITS`, before
anything renders, that every physical name fits AWS's limits once the project and environment
are prefixed. The configuration's types are imported for type checking only: this module never
imports `cfn.config` at run time, so the two do not form a cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from troposphere import Tags

if TYPE_CHECKING:
    from cfn.config import Environment, Service

MANAGED_BY = "insightxi-infra"

# AWS's limits on the names built below.
# https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html
# https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
LIMITS = {
    "stack": 128,
    "load balancer": 32,
    "target group": 32,
    "IAM role": 64,
    "ECS cluster": 255,
    "ECS service": 255,
    "task definition family": 255,
    "log group": 512,
    "secret": 512,
    "S3 bucket": 63,
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
    "alarm": 255,
}
# An image tag parameter's values: what ECR allows, except the mutable `latest` (a deploy must
# name what it runs). Used by the templates' AllowedPattern and by `bin/deploy plan`.
# https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_Image.html
IMAGE_TAG_PATTERN = r"^(?!latest$)[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
# CloudFormation names a nested stack "<root>-<LogicalId>-<12 or 13 random characters>".
_NESTED_SUFFIX = 14


def pascal(name: str) -> str:
    """`sportmonks-service` -> `SportmonksService` (logical ids allow letters and digits only)."""
    return "".join(part[:1].upper() + part[1:] for part in name.replace("_", "-").split("-"))


def prefix(env: Environment) -> str:
    return f"{env.project}-{env.name}"


# -- stacks and templates ---------------------------------------------------------------------


def root_stack(env: Environment) -> str:
    return prefix(env)


def bootstrap_stack(env: Environment) -> str:
    return f"{prefix(env)}-bootstrap"


ROOT_TEMPLATE = "root.json"
NETWORK = "Network"
EDGE = "Edge"
CLUSTER = "Cluster"


def service_stack_id(service: Service) -> str:
    """Logical id of a service's nested stack in the root template."""
    return pascal(service.name)


def template_file(logical_id: str) -> str:
    """File name of a nested stack's template: `Network` -> `network.json`."""
    out = []
    for i, ch in enumerate(logical_id):
        if ch.isupper() and i:
            out.append("-")
        out.append(ch.lower())
    return "".join(out) + ".json"


def artifacts_bucket(env: Environment) -> str:
    """The artifacts bucket's name, as a `Fn::Sub` string (unique per account and region)."""
    return f"{prefix(env)}-artifacts-${{AWS::AccountId}}-${{AWS::Region}}"


BOOTSTRAP_TEMPLATE = "bootstrap.json"


def logs_bucket(env: Environment) -> str:
    """The logs bucket's name (load balancer and artifacts-bucket access logs), as `Fn::Sub`."""
    return f"{prefix(env)}-logs-${{AWS::AccountId}}-${{AWS::Region}}"


# Key prefixes in the logs bucket (ELB appends `AWSLogs/<account>/...` itself).
ALB_LOGS_PREFIX = "alb"
ARTIFACTS_LOGS_PREFIX = "s3/artifacts/"


def artifacts_prefix(env: Environment) -> str:
    """Key prefix of the environment's templates in the artifacts bucket."""
    return f"{env.project}/{env.name}"


# -- parameters and outputs -------------------------------------------------------------------


def image_tag_parameter(service: Service) -> str:
    return f"{pascal(service.name)}ImageTag"


ARTIFACTS_BUCKET_PARAMETER = "ArtifactsBucket"
ARTIFACTS_PREFIX_PARAMETER = "ArtifactsPrefix"
LOGS_KEY_PARAMETER = "LogsKeyArn"
# The root stack's output the deploy passes as the change set's rollback triggers (a
# comma-separated list of composite alarm ARNs, at most five: CloudFormation's limit).
ROLLBACK_ALARMS_OUTPUT = "RollbackAlarmArns"


# -- physical names ---------------------------------------------------------------------------


def cluster(env: Environment) -> str:
    return f"{prefix(env)}-cluster"


def load_balancer(env: Environment) -> str:
    return f"{prefix(env)}-alb"


def target_group(env: Environment, service: Service) -> str:
    return f"{prefix(env)}-{service.discovery_name}"


def ecs_service(env: Environment, service: Service) -> str:
    return f"{prefix(env)}-{service.discovery_name}"


def task_family(env: Environment, service: Service) -> str:
    return f"{prefix(env)}-{service.discovery_name}"


def execution_role(env: Environment, service: Service) -> str:
    return f"{prefix(env)}-{service.discovery_name}-execution"


def task_role(env: Environment, service: Service) -> str:
    return f"{prefix(env)}-{service.discovery_name}-task"


def flow_log_group(env: Environment) -> str:
    return f"/vpc/{prefix(env)}/flow-logs"


def flow_logs_role(env: Environment) -> str:
    return f"{prefix(env)}-flow-logs"


def alb_5xx_alarm(env: Environment) -> str:
    return f"{prefix(env)}-alb-5xx"


def unhealthy_targets_alarm(env: Environment, service: Service) -> str:
    return f"{prefix(env)}-{service.discovery_name}-unhealthy-targets"


def running_tasks_alarm(env: Environment, service: Service) -> str:
    return f"{prefix(env)}-{service.discovery_name}-running-tasks"


def rollback_alarm(env: Environment, n: int) -> str:
    """The `n`-th (from 1) composite alarm the deploy hands CloudFormation as rollback trigger."""
    return f"{prefix(env)}-rollback-{n}"


def log_group(env: Environment, service: Service) -> str:
    return f"/ecs/{prefix(env)}/{service.name}"


def secret(env: Environment, service: Service, variable: str) -> str:
    """Secrets Manager name of a service's secret: `insightxi/prod/sportmonks-service/API_KEY`."""
    return f"{env.project}/{env.name}/{service.name}/{variable}"


def discovery_host(env: Environment, service: Service) -> str:
    return f"{service.discovery_name}.{env.discovery_namespace}"


def discovery_url_variable(service: Service) -> str:
    """Environment variable through which a dependent reaches this service: `SPORTMONKS_URL`."""
    return f"{service.discovery_name.upper().replace('-', '_')}_URL"


def image_repository_uri(service: Service) -> str:
    """The ECR repository's URI as a `Fn::Sub` string (account and region from the stack)."""
    return f"${{AWS::AccountId}}.dkr.ecr.${{AWS::Region}}.${{AWS::URLSuffix}}/{service.repository}"


# -- tags -------------------------------------------------------------------------------------


def tag_dict(env: Environment, service: Service | None = None) -> dict[str, str]:
    tags = {"Environment": env.name, "ManagedBy": MANAGED_BY, "Project": env.project}
    if service is not None:
        tags["Service"] = service.name
    return dict(sorted(tags.items()))


def tags(env: Environment, service: Service | None = None, name: str | None = None) -> Tags:
    """Resource tags, sorted by key so that rendering is stable. `name` adds a `Name` tag."""
    values = tag_dict(env, service)
    if name is not None:
        values["Name"] = name
    return Tags(**dict(sorted(values.items())))


# -- limits -----------------------------------------------------------------------------------


def physical_names(env: Environment) -> list[tuple[str, str, str]]:
    """(kind, name, what it belongs to) for every physical name the environment uses."""
    where = f"environment {env.name}"
    longest_nested = max(
        [NETWORK, EDGE, CLUSTER] + [service_stack_id(s) for s in env.services], key=len
    )
    out = [
        ("stack", root_stack(env), where),
        ("stack", bootstrap_stack(env), where),
        (
            "stack",
            f"{root_stack(env)}-{longest_nested}-" + "X" * _NESTED_SUFFIX,
            f"{where}, nested stack {longest_nested}",
        ),
        ("ECS cluster", cluster(env), where),
        # The longest an account id (12 digits) and the region can make it.
        (
            "S3 bucket",
            artifacts_bucket(env)
            .replace("${AWS::AccountId}", "1" * 12)
            .replace("${AWS::Region}", env.region),
            where,
        ),
        ("load balancer", load_balancer(env), where),
        (
            "S3 bucket",
            logs_bucket(env)
            .replace("${AWS::AccountId}", "1" * 12)
            .replace("${AWS::Region}", env.region),
            where,
        ),
        ("log group", flow_log_group(env), where),
        ("IAM role", flow_logs_role(env), where),
        ("alarm", alb_5xx_alarm(env), where),
        ("alarm", rollback_alarm(env, 5), where),
    ]
    for s in env.services:
        w = f"{where}, service {s.name}"
        out += [
            ("target group", target_group(env, s), w),
            ("ECS service", ecs_service(env, s), w),
            ("task definition family", task_family(env, s), w),
            ("IAM role", execution_role(env, s), w),
            ("IAM role", task_role(env, s), w),
            ("log group", log_group(env, s), w),
            ("alarm", unhealthy_targets_alarm(env, s), w),
            ("alarm", running_tasks_alarm(env, s), w),
        ]
        out += [("secret", secret(env, s, v), w) for v in s.secrets]
    return out
