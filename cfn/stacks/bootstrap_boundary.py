"""The environment's permissions boundary: a managed policy in the bootstrap stack
(`<project>-<env>-boundary`) that every role the platform's stacks create carries, and the Deny
statements that keep it in force.

Why: CloudFormation's service role creates and changes the `<project>-<env>-*` roles, and a
deployer may upload a template of their own; without a boundary such a role could be given
more rights than the deployer has. The service role may create a role, or give one a policy,
only with this boundary (`cfn.stacks.deployroles`), AWS's pattern for delegating role creation:
https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html

A boundary does not grant anything; a role may do what both its own policies and the boundary
allow. This one allows the union of what the platform's roles need, scoped to the environment:
- the task execution roles: pull the services' images (the ECR login token has no resource),
  write to the `/ecs/<project>-<env>/` log groups, read the environment's secrets;
- the flow logs role: write to the VPC's flow log group;
- the task roles: what the configuration grants each service (`task_role_actions` on
  `task_role_resources`), nothing by default.
ECS and Application Auto Scaling act with their service-linked roles, which take no boundary.

`guards` are Deny statements, in the boundary and in the service role's policy: no change to
the boundary or the deployer policy, none to CloudFormation's service role, no role's boundary
removed or swapped for another.

What a boundary cannot do: limit who may assume a role (IAM has no condition on a trust
policy's content). The review's security section flags a trust that lets someone new in.

Passing a role (`role_statements`): the service role may `iam:PassRole` a `<project>-<env>-*`
role only to the AWS services the platform's stacks pass their roles to, with AWS's condition
key `iam:PassedToService` (AWS's pattern for granting PassRole:
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html, the key:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_PassedToService).
Unconditioned, a deployer's own template could hand a platform role to a service the platform
never uses (a Lambda function, an EC2 instance profile, a CodeBuild project) and act there
with that role's rights. The list is not kept by hand (`passed_to_services`): it is the service
principals that the roles the stacks create trust, built by the very functions that build
them, since a role is passed to the service that assumes it (the task definitions'
`TaskRoleArn` and `ExecutionRoleArn` to `ecs-tasks.amazonaws.com`, the flow log's
`DeliverLogsPermissionArn` to `vpc-flow-logs.amazonaws.com`; ECS services and scalable targets
name no role: they use their service-linked roles). `tests/test_deploy_roles.py` checks every
rendered template: each role ARN a resource property takes goes to a service in the list, which
the role trusts.
"""

from __future__ import annotations

from typing import Any

from awacs import aws
from troposphere import Parameter, encode_to_dict, iam

from cfn import naming
from cfn.config import Environment
from cfn.policies import (
    ALL,
    ARN,
    HERE,
    TASK_EXECUTION_MANAGED_POLICY,
    boundary_policy_name,
    deployer_policy_name,
    iam_arn,
    permissions_boundary,
    service_role_name,
    statement,
)
from cfn.stacks import audit
from cfn.stacks.service import roles as service_roles


def _deny(sid: str, actions: str, resources: list[Any], **kw: Any) -> aws.Statement:
    return statement(sid, actions, resources, Effect=aws.Deny, **kw)


def guards(env: Environment, boundary: Any) -> list[aws.Statement]:
    """What no role the boundary caps, and not CloudFormation's service role either, may do:
    edit the boundary (`boundary`, its ARN) or the deployer policy, edit the service role,
    remove a role's boundary or put another one in its place."""
    protected_policies = [boundary, iam_arn("policy", deployer_policy_name(env))]
    return [
        _deny(
            "NoBoundaryOrDeployerPolicyEdit",
            (
                "iam:CreatePolicyVersion iam:DeletePolicy iam:DeletePolicyVersion "
                "iam:SetDefaultPolicyVersion iam:TagPolicy iam:UntagPolicy"
            ),
            protected_policies,
        ),
        _deny(
            "NoServiceRoleEdit",
            (
                "iam:DeleteRole iam:UpdateRole iam:UpdateAssumeRolePolicy iam:PutRolePolicy "
                "iam:DeleteRolePolicy iam:AttachRolePolicy iam:DetachRolePolicy "
                "iam:PutRolePermissionsBoundary iam:TagRole iam:UntagRole"
            ),
            [iam_arn("role", service_role_name(env))],
        ),
        _deny("NoBoundaryRemoval", "iam:DeleteRolePermissionsBoundary", [ALL]),
        _deny(
            "NoOtherBoundary",
            "iam:PutRolePermissionsBoundary",
            [ALL],
            Condition=aws.Condition(aws.StringNotEquals("iam:PermissionsBoundary", boundary)),
        ),
    ]


def _roles_of_the_stacks(env: Environment) -> list[iam.Role]:
    """The roles the platform's stacks create, made by the functions the stacks make them with:
    each service's execution and task role (service stacks), the flow logs role (cluster
    stack, with flow logs)."""
    made = [
        make(env, s)
        for s in env.services
        for make in (service_roles.execution_role, service_roles.task_role)
    ]
    if env.flow_logs:
        # Only the role is read here: the VPC it would log is a placeholder.
        vpc = Parameter("VpcId", Type="AWS::EC2::VPC::Id")
        made += [r for r in audit.flow_logs(env, vpc, None) if isinstance(r, iam.Role)]
    return made


def passed_to_services(env: Environment) -> list[str]:
    """The AWS services the platform's stacks pass a role to, sorted: the service principals
    the roles they create trust (see the module doc)."""
    found: set[str] = set()
    for role in _roles_of_the_stacks(env):
        trust = encode_to_dict(role.AssumeRolePolicyDocument)
        for s in trust["Statement"]:
            principal = s.get("Principal")
            services = principal.get("Service", []) if isinstance(principal, dict) else []
            found |= {services} if isinstance(services, str) else set(services)
    return sorted(found)


def role_statements(env: Environment, boundary: Any) -> list[aws.Statement]:
    """The service role's rights on the `<project>-<env>-*` roles (`boundary`: the ARN of the
    environment's permissions boundary): it may create one, give it an inline or a managed
    policy, or put a boundary on it, only with that boundary, so that no role the stacks make
    can do more than the boundary allows, whatever template a deployer uploads; it may pass
    one only to the services the platform's roles are for (`passed_to_services`). Deleting,
    reading, tagging, detaching and removing inline policies stay unconditioned: they take
    rights away, and a role made before the boundary existed must still be updatable (to get
    the boundary) and deletable."""
    roles = [iam_arn("role", f"{naming.prefix(env)}-*")]
    with_boundary = aws.StringEquals("iam:PermissionsBoundary", boundary)
    return [
        statement(
            "Roles",
            (
                "iam:DeleteRole iam:GetRole iam:UpdateRole iam:UpdateAssumeRolePolicy "
                "iam:DeleteRolePolicy iam:GetRolePolicy iam:ListRolePolicies "
                "iam:ListAttachedRolePolicies iam:TagRole iam:UntagRole"
            ),
            roles,
        ),
        statement(
            "PassRolesOnlyToThePlatformsServices",
            "iam:PassRole",
            roles,
            Condition=aws.Condition(
                aws.StringEquals("iam:PassedToService", passed_to_services(env))
            ),
        ),
        statement(
            "RolesOnlyWithTheBoundary",
            "iam:CreateRole iam:PutRolePolicy iam:PutRolePermissionsBoundary",
            roles,
            Condition=aws.Condition(with_boundary),
        ),
        statement(
            "AttachOnlyTheExecutionPolicy",
            "iam:AttachRolePolicy",
            roles,
            Condition=aws.Condition(
                [aws.ArnEquals("iam:PolicyARN", TASK_EXECUTION_MANAGED_POLICY), with_boundary]
            ),
        ),
        statement(
            "DetachTheExecutionPolicy",
            "iam:DetachRolePolicy",
            roles,
            Condition=aws.Condition(aws.ArnEquals("iam:PolicyARN", TASK_EXECUTION_MANAGED_POLICY)),
        ),
    ]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _platform_roles(env: Environment) -> list[aws.Statement]:
    """What the execution roles and the flow logs role do (see the module doc)."""
    p = naming.prefix(env)
    logs = f"{ARN}:logs:{HERE}:log-group"
    found = [
        statement(
            "PullTheServicesImages",
            "ecr:BatchCheckLayerAvailability ecr:GetDownloadUrlForLayer ecr:BatchGetImage",
            _unique([f"{ARN}:ecr:{HERE}:repository/{s.repository}" for s in env.services]),
        ),
        # GetAuthorizationToken has no resource-level permissions.
        statement("EcrLogin", "ecr:GetAuthorizationToken", [ALL]),
        statement(
            "WriteTheServicesLogs",
            "logs:CreateLogStream logs:PutLogEvents",
            [f"{logs}:/ecs/{p}/*"],
        ),
    ]
    if any(s.secrets for s in env.services):
        found.append(
            statement(
                "ReadTheEnvironmentsSecrets",
                "secretsmanager:GetSecretValue",
                [f"{ARN}:secretsmanager:{HERE}:secret:{env.project}/{env.name}/*"],
            )
        )
    if env.flow_logs:
        found.append(
            statement(
                "WriteTheFlowLogs",
                "logs:CreateLogStream logs:PutLogEvents logs:DescribeLogStreams",
                [f"{logs}:{naming.flow_log_group(env)}*"],
            )
        )
    return found


def _applications(env: Environment) -> list[aws.Statement]:
    """What the configuration grants each service's own code (its task role), as it is."""
    return [
        aws.Statement(
            Sid=f"Application{naming.pascal(s.name)}",
            Effect=aws.Allow,
            Action=[aws.Action(*a.split(":", 1)) for a in s.task_role_actions],
            Resource=list(s.task_role_resources),
        )
        for s in env.services
        if s.task_role_actions
    ]


def boundary_policy(env: Environment) -> iam.ManagedPolicy:
    """The boundary every `<project>-<env>-*` role of the stacks carries (see module doc)."""
    statements = [
        *_platform_roles(env),
        *_applications(env),
        *guards(env, permissions_boundary(env)),
    ]
    return iam.ManagedPolicy(
        "BoundaryPolicy",
        ManagedPolicyName=boundary_policy_name(env),
        Description=f"The most any role of {naming.prefix(env)}'s stacks may do",
        PolicyDocument=aws.PolicyDocument(Version="2012-10-17", Statement=statements),
    )
