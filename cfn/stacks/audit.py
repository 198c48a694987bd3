"""Audit-trail resources shared by several templates (issue 14): the logs bucket (bootstrap
stack), the customer managed KMS key of the log groups and the VPC flow logs (cluster stack),
and the Guard suppression metadata.

The logs bucket receives the load balancer's access logs and the artifacts bucket's server
access logs. ALB access logs require SSE-S3 (not KMS); the bucket is private, owner-enforced,
TLS-only, and expires objects after the environment's `access_log_expiration_days`. ELB writes
to it as the region's ELB account (regions opened before August 2022) or as the
`logdelivery.elasticloadbalancing.amazonaws.com` service principal (newer regions):
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html
"""

from __future__ import annotations

from awacs import aws, kms, logs, s3, sts
from troposphere import GetAtt, Parameter, Ref, Sub, ec2, iam
from troposphere import kms as kms_resources
from troposphere import logs as log_resources
from troposphere import s3 as s3_resources

from cfn import naming, policies
from cfn.config import Environment
from cfn.stacks._common import private_bucket, retain_policies

# The ELB account per region for regions available before August 2022 (newer regions use the
# service principal below instead).
ELB_ACCOUNTS = {
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-south-1": "718504428378",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-southeast-3": "589379963580",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-north-1": "897822967062",
    "eu-south-1": "635631232127",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
}
# https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-administrators
KEY_ADMINISTRATION = (
    "Create*",
    "Describe*",
    "Enable*",
    "List*",
    "Put*",
    "Update*",
    "Revoke*",
    "Disable*",
    "Get*",
    "Delete*",
    "TagResource",
    "UntagResource",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "RotateKeyOnDemand",
)
ELB_LOG_DELIVERY = "logdelivery.elasticloadbalancing.amazonaws.com"
S3_LOG_DELIVERY = "logging.s3.amazonaws.com"


def guard_suppressions(*rules: tuple[str, str]) -> dict[str, object]:
    """Resource Metadata suppressing AWS Control Tower proactive controls (Guard rules) the way
    Guard documents (`guard: SuppressedRules`), each with its one-line reason beside it."""
    return {
        "guard": {"SuppressedRules": [rule for rule, _ in rules]},
        "InsightXI": {"GuardSuppressionReasons": dict(rules)},
    }


# Shared reasons: the README's Safety section lists them (generated from these).
NO_OBJECT_LOCK = (
    "CT.S3.PR.9",
    "objects are replaced and expired by lifecycle; a lock would keep them",
)
NO_EVENTS = ("CT.S3.PR.4", "nothing consumes events from this bucket")
NO_ALARM_ACTION = (
    "CT.CLOUDWATCH.PR.1",
    "a rollback trigger: CloudFormation acts on it, it notifies nobody",
)


def log_group_metadata(env: Environment) -> dict[str, object]:
    """`Metadata=` for a log group: the controls it does not meet in this environment, why."""
    rules = []
    if env.log_retention_days < 365:
        rules.append(
            (
                "CT.CLOUDWATCH.PR.2",
                f"{env.name} keeps logs {env.log_retention_days} days (log_retention_days): "
                "a year of logs costs more than it tells here",
            )
        )
    if not env.kms_log_encryption:
        rules.append(("CT.CLOUDWATCH.PR.3", f"KMS turned off: {env.cost_opt_out_reason}"))
    return {"Metadata": guard_suppressions(*rules)} if rules else {}


# -- the logs bucket (bootstrap stack) ------------------------------------------------------


def logs_bucket(env: Environment) -> s3_resources.Bucket:
    """SSE-S3 (what ALB access logs accept), private, owner-enforced, expiring."""
    return s3_resources.Bucket(
        "LogsBucket",
        BucketName=Sub(naming.logs_bucket(env)),
        **private_bucket(),
        LifecycleConfiguration=s3_resources.LifecycleConfiguration(
            Rules=[
                s3_resources.LifecycleRule(
                    Id="expire-access-logs",
                    Status="Enabled",
                    ExpirationInDays=env.access_log_expiration_days,
                )
            ]
        ),
        Tags=naming.tags(env),
        Metadata=guard_suppressions(
            ("CT.S3.PR.2", "the logs bucket does not log access to itself (it would log forever)"),
            ("CT.S3.PR.3", "access logs are written once and expire; versions would only cost"),
            ("CT.S3.PR.11", "access logs are written once and expire; versions would only cost"),
            NO_EVENTS,
            NO_OBJECT_LOCK,
        ),
        **retain_policies(env),
    )


def _elb_principal(env: Environment) -> aws.Principal:
    account = ELB_ACCOUNTS.get(env.region)
    if account:
        return aws.Principal("AWS", [f"arn:aws:iam::{account}:root"])
    return aws.Principal("Service", [ELB_LOG_DELIVERY])


def logs_bucket_policy(env: Environment, bucket: s3_resources.Bucket) -> s3_resources.BucketPolicy:
    """TLS only; ELB writes the ALB's logs, S3 the artifacts bucket's, under their prefixes."""
    this_account = aws.Condition(aws.StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")}))
    alb_prefix = f"${{LogsBucket.Arn}}/{naming.ALB_LOGS_PREFIX}/AWSLogs/${{AWS::AccountId}}/*"
    return s3_resources.BucketPolicy(
        "LogsBucketPolicy",
        Bucket=Ref(bucket),
        PolicyDocument=aws.PolicyDocument(
            Version="2012-10-17",
            Statement=[
                policies.deny_insecure_transport(bucket.title),
                aws.Statement(
                    Sid="LoadBalancerAccessLogs",
                    Effect=aws.Allow,
                    Principal=_elb_principal(env),
                    Action=[s3.PutObject],
                    Resource=[Sub(alb_prefix)],
                ),
                aws.Statement(
                    Sid="ArtifactsBucketAccessLogs",
                    Effect=aws.Allow,
                    Principal=aws.Principal("Service", [S3_LOG_DELIVERY]),
                    Action=[s3.PutObject],
                    Resource=[Sub(f"${{LogsBucket.Arn}}/{naming.ARTIFACTS_LOGS_PREFIX}*")],
                    Condition=this_account,
                ),
            ],
        ),
    )


# -- the log groups' key and the VPC flow logs (cluster stack) ---------------------------------


def logs_key(env: Environment) -> kms_resources.Key:
    """A customer managed key with rotation; CloudWatch Logs of this account and region only."""
    logs_arn = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
    return kms_resources.Key(
        "LogsKey",
        Description=f"{naming.prefix(env)}: encrypts the environment's CloudWatch log groups",
        EnableKeyRotation=True,
        KeyPolicy=aws.PolicyDocument(
            Version="2012-10-17",
            Statement=[
                aws.Statement(
                    # Without it the key could become unmanageable: IAM policies of the account
                    # decide who administers the key.
                    Sid="AccountAdministers",
                    Effect=aws.Allow,
                    Principal=aws.Principal(
                        "AWS", [Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")]
                    ),
                    # AWS's key-administrator actions (no "kms:*": the project allows no
                    # service-wide grant anywhere); using the key is CloudWatch Logs' only.
                    Action=[kms.Action(a) for a in KEY_ADMINISTRATION],
                    Resource=["*"],
                ),
                aws.Statement(
                    Sid="CloudWatchLogsOfThisAccountAndRegion",
                    Effect=aws.Allow,
                    Principal=aws.Principal("Service", [Sub("logs.${AWS::Region}.amazonaws.com")]),
                    Action=[
                        kms.Encrypt,
                        kms.Decrypt,
                        kms.ReEncryptFrom,
                        kms.ReEncryptTo,
                        kms.GenerateDataKey,
                        kms.GenerateDataKeyWithoutPlaintext,
                        kms.DescribeKey,
                    ],
                    Resource=["*"],
                    Condition=aws.Condition(
                        aws.ArnLike({"kms:EncryptionContext:aws:logs:arn": Sub(logs_arn)})
                    ),
                ),
            ],
        ),
        Tags=naming.tags(env),
        **retain_policies(env),
    )


def flow_logs(env: Environment, vpc_id: Parameter, key: kms_resources.Key | None) -> list:
    """The VPC's flow logs into their own log group (the env's retention), and the role that
    lets VPC Flow Logs write exactly there."""
    encrypted = {"KmsKeyId": GetAtt(key, "Arn")} if key is not None else {}
    group = log_resources.LogGroup(
        "FlowLogGroup",
        LogGroupName=naming.flow_log_group(env),
        RetentionInDays=env.log_retention_days,
        Tags=naming.tags(env),
        **log_group_metadata(env),
        **encrypted,
        **retain_policies(env),
    )
    role = iam.Role(
        "FlowLogsRole",
        RoleName=naming.flow_logs_role(env),
        Description=f"VPC Flow Logs of {naming.prefix(env)} write to their log group",
        AssumeRolePolicyDocument=aws.PolicyDocument(
            Version="2012-10-17",
            Statement=[
                aws.Statement(
                    Effect=aws.Allow,
                    Principal=aws.Principal("Service", ["vpc-flow-logs.amazonaws.com"]),
                    Action=[sts.AssumeRole],
                    Condition=aws.Condition(
                        aws.StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")})
                    ),
                )
            ],
        ),
        Policies=[
            iam.Policy(
                PolicyName="write-flow-logs",
                PolicyDocument=aws.PolicyDocument(
                    Version="2012-10-17",
                    Statement=[
                        aws.Statement(
                            Effect=aws.Allow,
                            Action=[
                                logs.CreateLogStream,
                                logs.PutLogEvents,
                                logs.DescribeLogStreams,
                            ],
                            Resource=[GetAtt(group, "Arn")],
                        )
                    ],
                ),
            )
        ],
        # CloudFormation's service role creates a role only with the environment's boundary.
        PermissionsBoundary=policies.permissions_boundary(env),
        Tags=naming.tags(env),
    )
    flow = ec2.FlowLog(
        "VpcFlowLog",
        ResourceId=Ref(vpc_id),
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="cloud-watch-logs",
        LogGroupName=Ref(group),
        DeliverLogsPermissionArn=GetAtt(role, "Arn"),
        MaxAggregationInterval=600,
        Tags=naming.tags(env),
    )
    return [group, role, flow]
