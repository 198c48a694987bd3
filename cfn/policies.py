"""IAM trust policies and least-privilege statements, as awacs objects (never JSON strings).

- `ecs_tasks_trust()`: ECS tasks may assume the role, only on behalf of this account's ECS
  (the `aws:SourceAccount` condition stops the confused-deputy problem).
- `read_secrets()`: `secretsmanager:GetSecretValue` on exactly the named secrets.
- `task_permissions()`: what a service's own code is granted, from the config (empty by default).
- the names and ARNs of the environment's deploy IAM (the CloudFormation service role, the
  deployer policy, the permissions boundary every role of the stacks carries) and `statement()`,
  the Allow shorthand the bootstrap stack's policies are written with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from awacs import aws, s3, secretsmanager, sts
from troposphere import GetAtt, Sub

from cfn import naming

if TYPE_CHECKING:
    from cfn.config import Environment

ECS_TASKS = "ecs-tasks.amazonaws.com"
# AWS managed policy: pull from ECR, write to CloudWatch Logs. Partition-aware.
TASK_EXECUTION_MANAGED_POLICY = Sub(
    "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
)


def ecs_tasks_trust() -> aws.PolicyDocument:
    """Trust policy for roles ECS tasks assume (execution role and task role)."""
    return aws.PolicyDocument(
        Version="2012-10-17",
        Statement=[
            aws.Statement(
                Effect=aws.Allow,
                Principal=aws.Principal("Service", [ECS_TASKS]),
                Action=[sts.AssumeRole],
                # Only ECS acting for this account may assume it (confused-deputy guard):
                # https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
                Condition=aws.Condition(
                    aws.StringEquals({"aws:SourceAccount": Sub("${AWS::AccountId}")})
                ),
            )
        ],
    )


def secret_arn_pattern(secret_name: str) -> Sub:
    """ARN of a Secrets Manager secret by name; `-??????` matches the suffix AWS appends."""
    return Sub(
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
        f"{secret_name}-??????"
    )


def secret_reference(secret_name: str) -> Sub:
    """What a container's `Secrets[].ValueFrom` names: the secret's (partial) ARN.

    The partial ARN (without the random suffix AWS appends) resolves to the secret by name, as
    Secrets Manager's GetSecretValue accepts it (AWS Copilot references secrets the same way),
    so the template never needs the suffix, and the value itself is never in the template.
    """
    return Sub(
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
        f"{secret_name}"
    )


def read_secrets(secret_names: Sequence[str]) -> aws.PolicyDocument:
    return aws.PolicyDocument(
        Version="2012-10-17",
        Statement=[
            aws.Statement(
                Sid="ReadOwnSecrets",
                Effect=aws.Allow,
                Action=[secretsmanager.GetSecretValue],
                Resource=[secret_arn_pattern(n) for n in secret_names],
            )
        ],
    )


def task_permissions(actions: Sequence[str], resources: Sequence[str]) -> aws.PolicyDocument:
    return aws.PolicyDocument(
        Version="2012-10-17",
        Statement=[
            aws.Statement(
                Sid="ApplicationAccess",
                Effect=aws.Allow,
                Action=[aws.Action(*a.split(":", 1)) for a in actions],
                Resource=list(resources),
            )
        ],
    )


def deny_insecure_transport(bucket_id: str) -> aws.Statement:
    """A bucket policy statement that denies every S3 action on the bucket and its objects
    made without TLS (`bucket_id`: the bucket's logical id in the template)."""
    return aws.Statement(
        Sid="DenyInsecureTransport",
        Effect=aws.Deny,
        Principal=aws.Principal("*"),
        # A Deny on every S3 action: nothing may reach the bucket without TLS.
        Action=[s3.Action("*")],
        Resource=[GetAtt(bucket_id, "Arn"), Sub(f"${{{bucket_id}.Arn}}/*")],
        Condition=aws.Condition(aws.Bool("aws:SecureTransport", "false")),
    )


# -- the environment's deploy IAM ---------------------------------------------------------------

ARN = "arn:${AWS::Partition}"
HERE = "${AWS::Region}:${AWS::AccountId}"
ALL = "*"


def service_role_name(env: Environment) -> str:
    """CloudFormation's role: outside `<project>-<env>-*`, the names it may manage."""
    return f"cloudformation-{naming.prefix(env)}"


def deployer_policy_name(env: Environment) -> str:
    return f"deployer-{naming.prefix(env)}"


def boundary_policy_name(env: Environment) -> str:
    return f"{naming.prefix(env)}-boundary"


def iam_arn(kind: str, name: str) -> str:
    """`Fn::Sub` text of an IAM role's or policy's ARN in this account (`kind`: role, policy)."""
    return f"{ARN}:iam::${{AWS::AccountId}}:{kind}/{name}"


def permissions_boundary(env: Environment) -> Sub:
    """The ARN of the environment's permissions boundary (the bootstrap stack's managed policy),
    built from the account and the environment's name: every role the stacks create names it,
    and the CloudFormation service role may create or change a role only with it."""
    return Sub(iam_arn("policy", boundary_policy_name(env)))


def statement(sid: str, actions: str, resources: list[Any], **kw: Any) -> aws.Statement:
    """An Allow of `actions` (space-separated `service:Action` names) on `resources` (`Fn::Sub`
    texts, `*`, or values used as they are)."""
    return aws.Statement(
        Sid=sid,
        Effect=kw.pop("Effect", aws.Allow),
        Action=[aws.Action(*a.split(":", 1)) for a in actions.split()],
        Resource=[Sub(r) if isinstance(r, str) and r != ALL else r for r in resources],
        **kw,
    )
