"""AWS's documented limits on what the configuration controls, and where each is enforced.

`LIMITS` is the table: one `Limit` per rule AWS would apply at deploy time (or the running
platform would break on), with its value, the page that documents it and where this project
checks it: `config` (refused when the configuration loads, before anything renders), an own
cfn-lint rule (by id), stock cfn-lint, or `by construction` (other limits make it unreachable).
Messages of configuration checks end with `Limit.cite()`, so a user sees which limit and where
AWS documents it; the README's "What is checked before deploy" section is generated from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from cfn.naming import LIMITS as NAME_LIMITS

CONFIG = "config"
_ELB_QUOTAS = (
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html"
)
_TARGET_GROUP_API = "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html"
_FARGATE = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size"
_VPC = "https://docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html"

# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827)
LOG_RETENTION_DAYS += (2192, 2557, 2922, 3288, 3653)


@dataclass(frozen=True)
class Limit:
    """One documented AWS limit: on what, its value, its source, and who checks it."""

    id: str
    resource: str
    what: str
    value: str
    source: str
    enforced: str

    def cite(self) -> str:
        return f"[AWS limit: {self.resource} {self.what}, {self.value}; {self.source}]"


def _name_limit(kind: str, source: str, enforced: str) -> Limit:
    return Limit(
        f"name-{kind.replace(' ', '-').lower()}",
        kind,
        "name length",
        f"at most {NAME_LIMITS[kind]} characters",
        source,
        enforced,
    )


# One row per line: the table reads as a table (E501 is off for this file).
# fmt: off
_ROWS = [
    Limit("region", "AWS", "region", "a region botocore knows", "https://docs.aws.amazon.com/general/latest/gr/rande.html", CONFIG),
    Limit("vpc-cidr", "VPC", "CIDR block", "IPv4, /16 to /28", _VPC, CONFIG),
    Limit("subnet-cidr", "subnet", "CIDR block", "/16 to /28, inside the VPC, no overlap", _VPC, CONFIG),
    Limit("alb-subnets", "load balancer", "subnets", "at least 2 availability zones", "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#availability-zones", CONFIG),
    Limit("certificate", "load balancer", "certificate", "an ACM certificate ARN in the load balancer's region", "https://docs.aws.amazon.com/acm/latest/userguide/acm-regions.html", CONFIG),
    Limit("load-balancer-name", "load balancer", "name", "letters, digits and hyphens, not beginning with 'internal-'", "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html", CONFIG),
    Limit("alb-rules", "load balancer", "rules per load balancer (excluding default rules)", "100", _ELB_QUOTAS, CONFIG),
    Limit("alb-target-groups", "load balancer", "target groups per load balancer", "100", _ELB_QUOTAS, CONFIG),
    Limit("rule-condition-values", "listener rule", "condition values per rule", "5", _ELB_QUOTAS, CONFIG),
    Limit("rule-wildcards", "listener rule", "condition wildcards per rule", "5", _ELB_QUOTAS, CONFIG),
    Limit("path-pattern-length", "listener rule", "path pattern length", "at most 128 characters", "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_PathPatternConditionConfig.html", CONFIG),
    Limit("listener-priority", "listener rule", "priority", "1 to 50000", "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateRule.html", CONFIG),
    Limit("health-check-interval", "target group", "health check interval", "5 to 300 seconds", _TARGET_GROUP_API, CONFIG),
    Limit("health-check-timeout", "target group", "health check timeout", "2 to 120 seconds", _TARGET_GROUP_API, CONFIG),
    Limit("health-check-timing", "target group", "health check interval", "greater than the timeout", _TARGET_GROUP_API, CONFIG),
    Limit("health-check-thresholds", "target group", "healthy/unhealthy threshold", "2 to 10", _TARGET_GROUP_API, CONFIG),
    Limit("deregistration-delay", "target group", "deregistration delay", "0 to 3600 seconds", "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html#deregistration-delay", CONFIG),
    Limit("fargate-size", "Fargate task", "CPU/memory combination", "one of the documented pairs", _FARGATE, CONFIG),
    Limit("ecs-tasks", "ECS service", "tasks per service", "0 to 5000", "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html", CONFIG),
    Limit("capacity-weight", "ECS capacity provider strategy", "weight", "0 to 1000", "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CapacityProviderStrategyItem.html", CONFIG),
    Limit("ecr-repository", "ECR", "repository name", "2 to 256 characters, lowercase, (?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*", "https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html", CONFIG),
    Limit("secret-literal", "ECS task definition", "plain environment variables", "no secret values (use secrets)", "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html", f"{CONFIG}; lint E9001"),
    Limit("log-retention", "CloudWatch Logs", "retention", "one of " + ", ".join(map(str, LOG_RETENTION_DAYS)) + " days", "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html", f"{CONFIG}; lint E9003 (set at all)"),
    Limit("cloudmap-namespace", "Cloud Map", "private DNS namespace name", "a DNS name: labels of 1 to 63 characters, 253 in all", "https://docs.aws.amazon.com/cloud-map/latest/api/API_CreatePrivateDnsNamespace.html", CONFIG),
    Limit("cloudmap-service", "Cloud Map", "service name (a DNS label)", "1 to 63 characters", "https://docs.aws.amazon.com/cloud-map/latest/api/API_CreateService.html", CONFIG),
    Limit("iam-action", "IAM", "policy action", "service:Action", "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html", f"{CONFIG}; lint E9006 (no wildcards)"),
    Limit("iam-role-policy", "IAM role", "inline policy size", "10,240 characters (whitespace not counted)", "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html", CONFIG),
    _name_limit("stack", "https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html", CONFIG),
    _name_limit("load balancer", "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html", f"{CONFIG}; lint E9009"),
    _name_limit("target group", _TARGET_GROUP_API, f"{CONFIG}; lint E9009"),
    _name_limit("IAM role", "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html", f"{CONFIG}; lint E9009"),
    _name_limit("S3 bucket", "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html", CONFIG),
    _name_limit("secret", "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html", CONFIG),
    # Project (21), environment (16) and discovery name (63) keep these far below their limit;
    # the same length check still runs on them.
    _name_limit("ECS cluster", "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html", "by construction; lint E9009"),
    _name_limit("ECS service", "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html", "by construction; lint E9009"),
    _name_limit("task definition family", "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html", "by construction"),
    _name_limit("log group", "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html", "by construction; lint E9009"),
    _name_limit("alarm", "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html", "by construction"),
    Limit("image-tag", "ECR", "image tag", "not 'latest', 1 to 128 characters", "https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_Image.html", "template parameter pattern; lint E9002"),
    Limit("template-size", "CloudFormation", "template body", "51,200 bytes inline, 1,000,000 bytes from S3", "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html", "lint W9010, E9011"),
    Limit("template-counts", "CloudFormation", "resources, parameters, outputs per template", "500, 200, 200", "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html", "lint W9012; stock cfn-lint"),
    Limit("resource-schema", "CloudFormation", "property types, enums and patterns", "per resource schema", "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-template-resource-type-ref.html", "stock cfn-lint"),
]
# fmt: on
LIMITS: dict[str, Limit] = {row.id: row for row in _ROWS}


def cite(limit_id: str) -> str:
    """The citation a configuration message ends with: `[AWS limit: ...; <source URL>]`."""
    return LIMITS[limit_id].cite()


def config_checked() -> list[Limit]:
    """The rows the configuration check enforces (each has a test that makes it fire)."""
    return [row for row in _ROWS if row.enforced.split(";")[0] == CONFIG]
