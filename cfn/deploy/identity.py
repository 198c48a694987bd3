"""Which AWS account a deploy command acts in: the environment's deploy role, assumed first when
the configuration names one, and the caller's account checked against the environment's
`account_id` before any other call.

dev, staging and prod usually live in separate accounts; credentials for the wrong one would
otherwise plan (or destroy) an environment where it does not belong. The check is one
`sts:GetCallerIdentity`, which needs no permission and cannot be denied.
"""

from __future__ import annotations

from typing import Any

from cfn.deploy.errors import DeployError


def session_name(env_name: str) -> str:
    """The role session name: who acts shows in CloudTrail as `insightxi-deploy-<env>`."""
    return f"insightxi-deploy-{env_name}"


def assume_role(sts: Any, role_arn: str, env_name: str) -> dict[str, str]:
    """Temporary credentials of `role_arn` (boto3 session keywords); one-line DeployError if not."""
    from botocore.exceptions import ClientError

    try:
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name(env_name))[
            "Credentials"
        ]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise DeployError(
            f"cannot assume {env_name}'s deploy role {role_arn}: "
            f"{error.get('Code', '')}: {error.get('Message', '')}",
            "check deploy_role_arn in the configuration and the role's trust policy",
        ) from None
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


def check_account(sts: Any, expected: str, env_name: str) -> str:
    """The caller's ARN when its account is `expected`; else a DeployError naming both."""
    identity = sts.get_caller_identity()
    actual = identity["Account"]
    if actual != expected:
        raise DeployError(
            f"these credentials are for AWS account {actual}, but environment {env_name} is in "
            f"account {expected} (account_id in the configuration): nothing was done"
        )
    return str(identity.get("Arn", ""))
