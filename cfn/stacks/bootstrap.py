"""Bootstrap template (stack `<project>-<env>-bootstrap`): the artifacts bucket and, unless the
environment opts out of access logs, the logs bucket (`cfn.stacks.audit`) that receives the
artifacts bucket's server access logs and the load balancer's access logs (the edge stack
names it; the bootstrap stack exists before any root stack).

Builds the S3 bucket that holds the environment's templates (`bin/deploy plan` uploads them
there under content-addressed keys): versioned, encrypted at rest, every kind of public access
blocked, objects owned by the bucket owner (no ACLs), a bucket policy that denies any request not
made over TLS, and a lifecycle rule that expires old versions and abandoned uploads. The bucket
is retained when the stack is deleted: it is the deploy history.

Also the environment's CloudFormation service role, the minimal deployer policy and the
permissions boundary every role of the platform's stacks carries (`cfn.stacks.deployroles`,
`cfn.stacks.deployer`, `cfn.stacks.bootstrap_boundary`). The service role's conditions name the
boundary by `Ref`, so CloudFormation creates the boundary first, also when an existing
environment's bootstrap stack is updated to have one.

Outputs: ArtifactsBucketName, ServiceRoleArn, DeployerPolicyArn, BoundaryPolicyArn,
LogsBucketName (with access logs).
"""

from __future__ import annotations

from awacs import aws
from troposphere import GetAtt, Ref, Sub, Template, s3

from cfn import naming, policies
from cfn.config import Environment
from cfn.stacks import audit, bootstrap_boundary, deployer, deployroles
from cfn.stacks._common import add_output, new_template, private_bucket

OLD_VERSIONS_DAYS = 90


def artifacts_bucket(env: Environment, logs: s3.Bucket | None = None) -> s3.Bucket:
    """Versioned, encrypted, private, owner-enforced; old versions expire; retained on delete;
    its server access logs go to the logs bucket when there is one."""
    logging = (
        {
            "LoggingConfiguration": s3.LoggingConfiguration(
                DestinationBucketName=Ref(logs), LogFilePrefix=naming.ARTIFACTS_LOGS_PREFIX
            )
        }
        if logs is not None
        else {}
    )
    suppressed = [audit.NO_EVENTS, audit.NO_OBJECT_LOCK]
    if logs is None:
        suppressed.append(("CT.S3.PR.2", f"access logs turned off: {env.cost_opt_out_reason}"))
    return s3.Bucket(
        "ArtifactsBucket",
        BucketName=Sub(naming.artifacts_bucket(env)),
        VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
        **private_bucket(),
        LifecycleConfiguration=s3.LifecycleConfiguration(
            Rules=[
                s3.LifecycleRule(
                    Id="expire-old-versions",
                    Status="Enabled",
                    NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(
                        NoncurrentDays=OLD_VERSIONS_DAYS
                    ),
                    AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(
                        DaysAfterInitiation=7
                    ),
                )
            ]
        ),
        Tags=naming.tags(env),
        Metadata=audit.guard_suppressions(*suppressed),
        DeletionPolicy="Retain",
        UpdateReplacePolicy="Retain",
        **logging,
    )


def tls_only_policy(bucket: s3.Bucket) -> s3.BucketPolicy:
    """Deny every request to the bucket that is not made over TLS."""
    return s3.BucketPolicy(
        "ArtifactsBucketPolicy",
        Bucket=Ref(bucket),
        PolicyDocument=aws.PolicyDocument(
            Version="2012-10-17",
            Statement=[policies.deny_insecure_transport(bucket.title)],
        ),
    )


def build(env: Environment) -> Template:
    t = new_template(env, f"bootstrap stack {naming.bootstrap_stack(env)}: artifacts and logs")
    logs = None
    if env.access_logs:
        logs = t.add_resource(audit.logs_bucket(env))
        t.add_resource(audit.logs_bucket_policy(env, logs))
    bucket = t.add_resource(artifacts_bucket(env, logs))
    t.add_resource(tls_only_policy(bucket))
    boundary = t.add_resource(bootstrap_boundary.boundary_policy(env))
    role = t.add_resource(deployroles.service_role(env, Ref(boundary)))
    policy = t.add_resource(deployer.deployer_policy(env, role))
    add_output(t, "ArtifactsBucketName", Ref(bucket), "Bucket holding the nested templates")
    add_output(t, "ServiceRoleArn", GetAtt(role, "Arn"), "CloudFormation acts with this role")
    add_output(t, "DeployerPolicyArn", Ref(policy), "What a deployer needs (attach to CI's role)")
    add_output(t, "BoundaryPolicyArn", Ref(boundary), "Every role of the stacks carries it")
    if logs is not None:
        add_output(t, "LogsBucketName", Ref(logs), "Bucket receiving the access logs")
    return t
