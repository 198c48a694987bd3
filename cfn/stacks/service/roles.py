"""The service's two IAM roles, both trusting `ecs-tasks.amazonaws.com` for this account only:
the execution role (what ECS needs to start the task) and the task role (what the application
itself may do). Both carry the environment's permissions boundary
(`cfn.stacks.bootstrap_boundary`): CloudFormation's service role creates a role only with it."""

from __future__ import annotations

from troposphere import iam

from cfn import naming, policies
from cfn.config import Environment, Service


def execution_role(env: Environment, service: Service) -> iam.Role:
    """ECS pulls the image, writes the logs and reads exactly this service's secrets."""
    secret_names = [naming.secret(env, service, v) for v in service.secrets]
    read_secrets = iam.Policy(
        PolicyName="read-own-secrets", PolicyDocument=policies.read_secrets(secret_names)
    )
    return iam.Role(
        "ExecutionRole",
        RoleName=naming.execution_role(env, service),
        Description=f"ECS starts {service.name} ({env.name}): image, logs, its secrets",
        AssumeRolePolicyDocument=policies.ecs_tasks_trust(),
        ManagedPolicyArns=[policies.TASK_EXECUTION_MANAGED_POLICY],
        PermissionsBoundary=policies.permissions_boundary(env),
        Policies=[read_secrets] if secret_names else [],
        Tags=naming.tags(env, service),
    )


def task_role(env: Environment, service: Service) -> iam.Role:
    """The application runs as this role: only the actions and resources config grants."""
    application = iam.Policy(
        PolicyName="application",
        PolicyDocument=policies.task_permissions(
            service.task_role_actions, service.task_role_resources
        ),
    )
    return iam.Role(
        "TaskRole",
        RoleName=naming.task_role(env, service),
        Description=f"The {service.name} application ({env.name}): only what config grants",
        AssumeRolePolicyDocument=policies.ecs_tasks_trust(),
        Policies=[application] if service.task_role_actions else [],
        PermissionsBoundary=policies.permissions_boundary(env),
        Tags=naming.tags(env, service),
    )
