"""Small helpers shared by the stack modules: template, parameter and output boilerplate."""

from __future__ import annotations

from troposphere import Output, Parameter, Template, s3

from cfn.config import Environment

# Every template says what it is and which environment it belongs to.
TEMPLATE_FORMAT = "2010-09-09"


def new_template(env: Environment, what: str) -> Template:
    t = Template()
    t.set_version(TEMPLATE_FORMAT)
    t.set_description(f"InsightXI {env.name}: {what}")
    # Read by the project's cfn-lint rules: W9013 (stateful resources retained where asked),
    # E9016 (protected: HTTP only redirects) and the opt-outs E9014/E9015 accept as recorded.
    t.set_metadata({"InsightXI": template_metadata(env)})
    return t


def opt_outs(env: Environment) -> dict[str, str]:
    """The safety envelope's parts the environment turns off, each with its recorded reason."""
    off = {
        "KmsLogEncryption": not env.kms_log_encryption,
        "AccessLogs": not env.access_logs,
        "FlowLogs": not env.flow_logs,
    }
    found = {k: env.cost_opt_out_reason for k, is_off in off.items() if is_off}
    if env.allow_http_only:
        found["HttpsOnly"] = env.http_only_reason
    return dict(sorted(found.items()))


def template_metadata(env: Environment) -> dict[str, object]:
    meta: dict[str, object] = {
        "Environment": env.name,
        "Protected": env.protected,
        "RetainStatefulResources": env.retain_stateful_resources,
    }
    if opt_outs(env):
        meta["OptOuts"] = opt_outs(env)
    return meta


def add_output(t: Template, name: str, value: object, description: str) -> Output:
    return t.add_output(Output(name, Value=value, Description=description))


def add_parameter(
    t: Template, name: str, description: str, type_: str = "String", **kwargs: object
) -> Parameter:
    return t.add_parameter(Parameter(name, Description=description, Type=type_, **kwargs))


def retain_policies(env: Environment) -> dict[str, str]:
    """DeletionPolicy/UpdateReplacePolicy for stateful resources (logs, namespace) per config.

    Retained: deleting or replacing the resource in the stack leaves the data in the account.
    Delete: the stack owns it completely (short-lived environments).
    """
    policy = "Retain" if env.retain_stateful_resources else "Delete"
    return {"DeletionPolicy": policy, "UpdateReplacePolicy": policy}


def service_port_range(env: Environment) -> tuple[int, int]:
    """The lowest and highest service port: one security group rule covers them all.

    One rule per port would hit the quota of 60 rules per direction per security group at 30
    services (two ingress rules each); the range is open only to the ALB's and the tasks' own
    security groups, so the ports between the services' reach nothing that listens.
    https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html#vpc-limits-security-groups
    """
    ports = [s.port for s in env.services]
    return min(ports), max(ports)


def private_bucket() -> dict[str, object]:
    """The properties every bucket of the project shares: SSE-S3 encryption by default (what
    ALB access logs accept), every form of public access blocked, ACLs disabled (the owner owns
    every object)."""
    return {
        "BucketEncryption": s3.BucketEncryption(
            ServerSideEncryptionConfiguration=[
                s3.ServerSideEncryptionRule(
                    ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                        SSEAlgorithm="AES256"
                    )
                )
            ]
        ),
        "PublicAccessBlockConfiguration": s3.PublicAccessBlockConfiguration(
            BlockPublicAcls=True,
            BlockPublicPolicy=True,
            IgnorePublicAcls=True,
            RestrictPublicBuckets=True,
        ),
        "OwnershipControls": s3.OwnershipControls(
            Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
        ),
    }
