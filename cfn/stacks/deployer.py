"""The minimal deployer policy of an environment: a managed policy in the bootstrap stack
(`deployer-<project>-<env>`) that CI's role (or a person's) attaches to run `bin/deploy plan`,
`execute`, `status`, `services` and `logs` (see `cfn.stacks.deployroles` for the service role).

Change-set rights on this environment's stacks, `iam:PassRole` on the service role only (and
only to CloudFormation), read/write on the artifacts prefix, and the read calls preflight, the
review and status make. `bootstrap`, `destroy` and `secret set` are not in it: they create or
delete what the policy protects, and stay with an administrator (the bootstrap stack's change
sets are denied: its name is under the prefix the change-set rights cover).
"""

from __future__ import annotations

from awacs import aws
from troposphere import GetAtt, iam

from cfn import naming
from cfn.config import Environment
from cfn.policies import ALL, ARN, HERE, deployer_policy_name
from cfn.policies import statement as _statement
from cfn.stacks.deployroles import _stacks


def deployer_policy(env: Environment, role: iam.Role) -> iam.ManagedPolicy:
    p = naming.prefix(env)
    bucket = f"{ARN}:s3:::{naming.artifacts_bucket(env)}"
    cluster = naming.cluster(env)
    statements = [
        _statement(
            "ChangeSets",
            (
                "cloudformation:CreateChangeSet cloudformation:DescribeChangeSet "
                "cloudformation:ExecuteChangeSet cloudformation:DeleteChangeSet "
                "cloudformation:ListChangeSets cloudformation:DescribeStacks "
                "cloudformation:DescribeStackEvents "
                "cloudformation:DescribeStackResource "
                "cloudformation:DescribeStackResources "
                "cloudformation:ListStackResources cloudformation:GetTemplate "
                "cloudformation:DetectStackDrift "
                "cloudformation:DescribeStackResourceDrifts "
                "cloudformation:GetStackPolicy cloudformation:SetStackPolicy "
                "cloudformation:UpdateTerminationProtection"
            ),
            _stacks(env),
        ),
        # The bootstrap stack's name is under the prefix too, but its change sets stay with an
        # administrator (`bin/deploy bootstrap`): one made with the service role would also
        # leave CloudFormation using that role for the administrator's next, which it denies.
        _statement(
            "NotTheBootstrapStack",
            (
                "cloudformation:CreateChangeSet cloudformation:ExecuteChangeSet "
                "cloudformation:SetStackPolicy cloudformation:UpdateTerminationProtection"
            ),
            [f"{ARN}:cloudformation:{HERE}:stack/{naming.bootstrap_stack(env)}/*"],
            Effect=aws.Deny,
        ),
        # An import change set adopts a resource that already exists in the account (a key, a
        # security group, a hosted zone of another project) into this environment's stacks,
        # where the service role could then change or delete it: plan never imports, so no
        # change set may (AWS's documented condition: the import's resource types are set).
        aws.Statement(
            Sid="NoImports",
            Effect=aws.Deny,
            Action=[aws.Action("cloudformation", "CreateChangeSet")],
            Resource=[ALL],
            Condition=aws.Condition(
                aws.ForAnyValueStringLike("cloudformation:ImportResourceTypes", ["*"])
            ),
        ),
        # No resource-level permissions.
        _statement(
            "StackReads",
            "cloudformation:DescribeStackDriftDetectionStatus cloudformation:ListStacks",
            [ALL],
        ),
        aws.Statement(
            Sid="PassTheServiceRoleToCloudFormation",
            Effect=aws.Allow,
            Action=[aws.Action("iam", "PassRole")],
            Resource=[GetAtt(role, "Arn")],
            Condition=aws.Condition(
                aws.StringEquals("iam:PassedToService", "cloudformation.amazonaws.com")
            ),
        ),
        _statement(
            "Artifacts",
            "s3:GetObject s3:PutObject",
            [f"{bucket}/{naming.artifacts_prefix(env)}/*"],
        ),
        # Without ListBucket, S3 answers a HEAD of a missing template with 403, not 404.
        _statement("ArtifactsList", "s3:ListBucket", [bucket]),
        _statement(
            "ServicesRead",
            (
                "ecs:DescribeServices ecs:ListTasks ecs:DescribeTasks "
                "ecs:ListServiceDeployments ecs:DescribeServiceDeployments"
            ),
            [
                f"{ARN}:ecs:{HERE}:service/{cluster}/{p}-*",
                f"{ARN}:ecs:{HERE}:container-instance/{cluster}/*",
                f"{ARN}:ecs:{HERE}:task/{cluster}/*",
                f"{ARN}:ecs:{HERE}:service-deployment/{cluster}/*",
            ],
        ),
        _statement(
            "TargetHealthAndTaskDefinitions",
            (
                "elasticloadbalancing:DescribeTargetHealth "
                "elasticloadbalancing:DescribeTargetGroups ecs:DescribeTaskDefinition "
                "logs:DescribeLogGroups"
            ),
            [ALL],  # no resource-level permissions
        ),
        _statement(
            "Logs",
            "logs:FilterLogEvents logs:GetLogEvents logs:StartLiveTail",
            [f"{ARN}:logs:{HERE}:log-group:/ecs/{p}/*"],
        ),
        _statement(
            "Preflight",
            "ecr:DescribeImages secretsmanager:DescribeSecret",
            [
                *(f"{ARN}:ecr:{HERE}:repository/{s.repository}" for s in env.services),
                f"{ARN}:secretsmanager:{HERE}:secret:{env.project}/{env.name}/*",
            ],
        ),
        _statement("Alarms", "cloudwatch:DescribeAlarms", [f"{ARN}:cloudwatch:{HERE}:alarm:{p}-*"]),
    ]
    return iam.ManagedPolicy(
        "DeployerPolicy",
        ManagedPolicyName=deployer_policy_name(env),
        Description=f"Plan and execute {p} through change sets with its CloudFormation role",
        PolicyDocument=aws.PolicyDocument(Version="2012-10-17", Statement=statements),
    )
