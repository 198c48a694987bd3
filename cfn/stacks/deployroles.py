"""The bootstrap stack's IAM: the CloudFormation service role of the environment and the minimal
deployer policy (issue 14).

The service role (`cloudformation-<project>-<env>`) is what CloudFormation acts with for every
change set `bin/deploy plan` makes (`RoleARN`): the deployer's own, often short-lived,
credentials no longer have to outlive a long ECS wait or a rollback, and need no rights on the
resources themselves. Its permissions are scoped to the resource types the templates create
and to the names they give them (`<project>-<env>-...`, `/ecs/<project>-<env>/...`); where an
ARN holds only a generated id (EC2, KMS keys, ACM certificates, Cloud Map), to this account and
region. `Resource: "*"` appears only on actions that have no resource-level permissions
(creating a KMS key, requesting a certificate, the Describe/List calls): W9007 checks it. The
role is not named with the environment's prefix, so it cannot edit itself. It may create a
`<project>-<env>-*` role, or give one a policy, only with the environment's permissions boundary
(`cfn.stacks.bootstrap_boundary`): whatever template a deployer uploads, no role it makes can do
more than the platform's roles need; and it may pass one (`iam:PassRole`) only to the services
the platform's roles are for (`iam:PassedToService`, same module), not to a Lambda function or
an instance profile of that template. The review's security section still flags every
broadening of a role before execute.

The deployer policy (`deployer-<project>-<env>`, a managed policy CI's role can attach):
change-set rights on this environment's stacks, `iam:PassRole` on the service role only (to
CloudFormation only), read/write on the artifacts prefix, and the read calls preflight, the
review and status make.
"""

from __future__ import annotations

from typing import Any

from awacs import aws
from troposphere import Ref, iam

from cfn import naming
from cfn.config import Environment
from cfn.policies import (
    ALL,
    ARN,
    HERE,
    deployer_policy_name,
    service_role_name,
)
from cfn.policies import statement as _statement
from cfn.stacks import bootstrap_boundary

__all__ = ["ALL", "ARN", "HERE", "deployer_policy_name", "service_role", "service_role_name"]

# Why the service role itself carries no boundary (recorded in its Metadata for E9019).
NO_BOUNDARY_REASON = (
    "CloudFormation's service role: an administrator creates it with bin/deploy bootstrap, and "
    "it may create roles only with the environment's boundary"
)


def _stacks(env: Environment) -> list[str]:
    p = naming.prefix(env)
    # The root is named exactly <prefix>; nested stacks and change sets start with "<prefix>-".
    return [
        f"{ARN}:cloudformation:{HERE}:stack/{p}/*",
        f"{ARN}:cloudformation:{HERE}:stack/{p}-*/*",
        f"{ARN}:cloudformation:{HERE}:changeSet/{p}-*/*",
    ]


def _templates(env: Environment) -> str:
    return f"{ARN}:s3:::{naming.artifacts_bucket(env)}/{naming.artifacts_prefix(env)}/*"


def _network(env: Environment) -> list[aws.Statement]:
    ec2 = (
        "CreateVpc DeleteVpc ModifyVpcAttribute DescribeVpcAttribute CreateSubnet "
        "DeleteSubnet ModifySubnetAttribute CreateInternetGateway DeleteInternetGateway "
        "AttachInternetGateway DetachInternetGateway AllocateAddress ReleaseAddress "
        "DisassociateAddress CreateNatGateway DeleteNatGateway CreateRouteTable "
        "DeleteRouteTable CreateRoute DeleteRoute ReplaceRoute AssociateRouteTable "
        "DisassociateRouteTable CreateSecurityGroup DeleteSecurityGroup "
        "AuthorizeSecurityGroupIngress RevokeSecurityGroupIngress "
        "AuthorizeSecurityGroupEgress RevokeSecurityGroupEgress CreateVpcEndpoint "
        "DeleteVpcEndpoints ModifyVpcEndpoint CreateFlowLogs DeleteFlowLogs CreateTags "
        "DeleteTags"
    )
    describe = (
        "DescribeVpcs DescribeSubnets DescribeInternetGateways DescribeAddresses "
        "DescribeNatGateways DescribeRouteTables DescribeSecurityGroups "
        "DescribeSecurityGroupRules DescribeVpcEndpoints DescribeFlowLogs "
        "DescribeAvailabilityZones DescribeAccountAttributes DescribeNetworkInterfaces "
        "DescribePrefixLists DescribeVpcEndpointServices"
    )
    return [
        # EC2 ARNs hold generated ids only: this account and region is the scope there is.
        _statement("Network", " ".join(f"ec2:{a}" for a in ec2.split()), [f"{ARN}:ec2:{HERE}:*"]),
        # EC2's Describe calls have no resource-level permissions.
        _statement("NetworkRead", " ".join(f"ec2:{a}" for a in describe.split()), [ALL]),
    ]


def _compute(env: Environment) -> list[aws.Statement]:
    p = naming.prefix(env)
    cluster = naming.cluster(env)
    elb = f"{ARN}:elasticloadbalancing:{HERE}"
    elb_write = (
        "CreateLoadBalancer DeleteLoadBalancer ModifyLoadBalancerAttributes "
        "SetSecurityGroups SetSubnets CreateTargetGroup DeleteTargetGroup "
        "ModifyTargetGroup ModifyTargetGroupAttributes CreateListener DeleteListener "
        "ModifyListener CreateRule DeleteRule ModifyRule SetRulePriorities AddTags "
        "RemoveTags"
    )
    elb_read = (
        "DescribeLoadBalancers DescribeTargetGroups DescribeListeners DescribeRules "
        "DescribeTargetHealth DescribeLoadBalancerAttributes "
        "DescribeTargetGroupAttributes DescribeTags"
    )
    scaling = "application-autoscaling"
    return [
        _statement(
            "Cluster",
            (
                "ecs:CreateCluster ecs:DeleteCluster ecs:UpdateCluster "
                "ecs:DescribeClusters ecs:PutClusterCapacityProviders ecs:TagResource "
                "ecs:UntagResource"
            ),
            [f"{ARN}:ecs:{HERE}:cluster/{cluster}"],
        ),
        _statement(
            "Services",
            (
                "ecs:CreateService ecs:UpdateService ecs:DeleteService "
                "ecs:DescribeServices ecs:TagResource ecs:UntagResource"
            ),
            [f"{ARN}:ecs:{HERE}:service/{cluster}/{p}-*"],
        ),
        _statement(
            "TaskDefinitions",
            "ecs:RegisterTaskDefinition ecs:TagResource",
            [f"{ARN}:ecs:{HERE}:task-definition/{p}-*:*"],
        ),
        # Deregister and Describe of task definitions have no resource-level permissions.
        _statement(
            "TaskDefinitionsRead",
            "ecs:DeregisterTaskDefinition ecs:DescribeTaskDefinition",
            [ALL],
        ),
        _statement(
            "LoadBalancer",
            " ".join(f"elasticloadbalancing:{a}" for a in elb_write.split()),
            [
                f"{elb}:loadbalancer/app/{p}-*/*",
                f"{elb}:targetgroup/{p}-*/*",
                f"{elb}:listener/app/{p}-*/*",
                f"{elb}:listener-rule/app/{p}-*/*",
            ],
        ),
        _statement(
            "LoadBalancerRead",
            " ".join(f"elasticloadbalancing:{a}" for a in elb_read.split()),
            [ALL],
        ),
        _statement(
            "Scaling",
            (
                f"{scaling}:RegisterScalableTarget {scaling}:DeregisterScalableTarget "
                f"{scaling}:PutScalingPolicy {scaling}:DeleteScalingPolicy "
                f"{scaling}:TagResource"
            ),
            [f"{ARN}:{scaling}:{HERE}:scalable-target/*"],
        ),
        _statement(
            "ScalingRead",
            (
                f"{scaling}:DescribeScalableTargets {scaling}:DescribeScalingPolicies "
                f"{scaling}:DescribeScalingActivities"
            ),
            [ALL],
        ),
    ]


def _observability(env: Environment) -> list[aws.Statement]:
    p = naming.prefix(env)
    logs = f"{ARN}:logs:{HERE}:log-group"
    return [
        _statement(
            "LogGroups",
            (
                "logs:CreateLogGroup logs:DeleteLogGroup logs:PutRetentionPolicy "
                "logs:DeleteRetentionPolicy logs:AssociateKmsKey "
                "logs:DisassociateKmsKey logs:TagResource logs:UntagResource "
                "logs:ListTagsForResource"
            ),
            [f"{logs}:/ecs/{p}/*", f"{logs}:{naming.flow_log_group(env)}*"],
        ),
        _statement("LogGroupsRead", "logs:DescribeLogGroups", [ALL]),
        _statement(
            "Alarms",
            (
                "cloudwatch:PutMetricAlarm cloudwatch:PutCompositeAlarm "
                "cloudwatch:DeleteAlarms cloudwatch:DescribeAlarms "
                "cloudwatch:TagResource cloudwatch:UntagResource"
            ),
            [
                f"{ARN}:cloudwatch:{HERE}:alarm:{p}-*",
                # The alarms of target tracking scaling policies are named by the service.
                f"{ARN}:cloudwatch:{HERE}:alarm:TargetTracking-service/{naming.cluster(env)}/*",
            ],
        ),
        _statement(
            "LogsKey",
            (
                "kms:DescribeKey kms:EnableKeyRotation kms:GetKeyRotationStatus "
                "kms:GetKeyPolicy kms:PutKeyPolicy kms:ScheduleKeyDeletion "
                "kms:TagResource kms:UntagResource kms:UpdateKeyDescription"
            ),
            [f"{ARN}:kms:{HERE}:key/*"],  # key ids are generated
        ),
        # Creating a key and requesting a certificate have no resource-level permissions.
        _statement("CreateKeyAndCertificate", "kms:CreateKey acm:RequestCertificate", [ALL]),
    ]


def _identity_and_names(env: Environment) -> list[aws.Statement]:
    zones = [f"{ARN}:route53:::hostedzone/{env.hosted_zone_id}"] if env.hosted_zone_id else []
    statements = [
        _statement(
            "ServiceLinkedRoles",
            "iam:CreateServiceLinkedRole",
            [f"{ARN}:iam::${{AWS::AccountId}}:role/aws-service-role/*"],
        ),
        _statement(
            "Certificate",
            (
                "acm:DescribeCertificate acm:DeleteCertificate acm:AddTagsToCertificate "
                "acm:RemoveTagsFromCertificate acm:ListTagsForCertificate"
            ),
            [f"{ARN}:acm:{HERE}:certificate/*"],  # certificate ids are generated
        ),
        _statement(
            "Discovery",
            (
                "servicediscovery:GetNamespace servicediscovery:DeleteNamespace "
                "servicediscovery:CreateService servicediscovery:DeleteService "
                "servicediscovery:GetService servicediscovery:UpdateService "
                "servicediscovery:GetOperation servicediscovery:TagResource "
                "servicediscovery:UntagResource"
            ),
            [f"{ARN}:servicediscovery:{HERE}:*"],  # namespace and service ids are generated
        ),
        # A private DNS namespace creates its own private hosted zone (id unknown in advance).
        _statement(
            "DiscoveryZone",
            "route53:GetHostedZone route53:DeleteHostedZone route53:GetChange",
            [f"{ARN}:route53:::hostedzone/*", f"{ARN}:route53:::change/*"],
        ),
        _statement(
            "CreateNamespace",
            (
                "servicediscovery:CreatePrivateDnsNamespace "
                "servicediscovery:ListNamespaces servicediscovery:ListOperations "
                "route53:CreateHostedZone"
            ),
            [ALL],  # no resource-level permissions
        ),
    ]
    if zones:
        statements.append(
            _statement(
                "DomainRecords",
                "route53:ChangeResourceRecordSets route53:ListResourceRecordSets",
                zones,
            )
        )
    return statements


def service_role(env: Environment, boundary: Any) -> iam.Role:
    """The role CloudFormation uses for the environment's stacks (see module doc); `boundary`:
    the ARN of the environment's permissions boundary (a `Ref` to the bootstrap stack's
    policy, so that CloudFormation creates the policy before the role's conditions need it)."""
    statements = [
        _statement(
            "NestedStacks",
            (
                "cloudformation:CreateStack cloudformation:UpdateStack "
                "cloudformation:DeleteStack cloudformation:DescribeStacks "
                "cloudformation:DescribeStackEvents "
                "cloudformation:DescribeStackResource "
                "cloudformation:DescribeStackResources cloudformation:GetTemplate "
                "cloudformation:CreateChangeSet cloudformation:DescribeChangeSet "
                "cloudformation:ExecuteChangeSet cloudformation:DeleteChangeSet "
                "cloudformation:ListStackResources"
            ),
            _stacks(env),
        ),
        _statement("Templates", "s3:GetObject", [_templates(env)]),
        *_network(env),
        *_compute(env),
        *_observability(env),
        *bootstrap_boundary.role_statements(env, boundary),
        *_identity_and_names(env),
        *bootstrap_boundary.guards(env, boundary),
    ]
    return iam.Role(
        "ServiceRole",
        RoleName=service_role_name(env),
        Description=f"CloudFormation acts with this role on {naming.prefix(env)}'s stacks",
        # E9019 asks every role for a boundary; this one is what the boundary's conditions bind.
        Metadata={"InsightXI": {"NoPermissionsBoundary": NO_BOUNDARY_REASON}},
        AssumeRolePolicyDocument=aws.PolicyDocument(
            Version="2012-10-17",
            Statement=[
                aws.Statement(
                    Effect=aws.Allow,
                    Principal=aws.Principal("Service", ["cloudformation.amazonaws.com"]),
                    Action=[aws.Action("sts", "AssumeRole")],
                    # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cross-service-confused-deputy-prevention.html
                    Condition=aws.Condition(
                        aws.StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")})
                    ),
                )
            ],
        ),
        Policies=[
            iam.Policy(
                PolicyName="environment-stacks",
                PolicyDocument=aws.PolicyDocument(Version="2012-10-17", Statement=statements),
            )
        ],
        Tags=naming.tags(env),
    )
