"""Root template of an environment (stack `<project>-<env>`).

Nests every part of the platform as an `AWS::CloudFormation::Stack`, wires one part's outputs to
the next part's parameters, and holds the parameters that change on every deploy: where the
templates are (artifacts bucket and key prefix; no bucket is hard-coded) and one image tag per
service.

Each nested `TemplateURL` ends in the SHA-256 of that nested template's rendered text, so the
URL of a part changes exactly when its template does: a change set then touches only the parts
that changed (a new image tag touches one service's stack only).

The root also holds the environment's composite rollback alarms (`cfn.stacks.alarms`) over the
nested stacks' alarms.

Outputs: the platform's URL, the cluster's name and the network's ids, passed on for people and
tools that read the root stack; RollbackAlarmArns, the rollback triggers `bin/deploy plan`
passes to CloudFormation.
"""

from __future__ import annotations

from collections.abc import Mapping

from troposphere import GetAtt, Join, Ref, Sub, Template, cloudformation

from cfn import naming
from cfn.config import Environment, Service
from cfn.stacks import alarms
from cfn.stacks._common import add_output, add_parameter, new_template


def nested_stack(
    t: Template,
    env: Environment,
    logical_id: str,
    template_hash: str,
    parameters: Mapping[str, object] | None = None,
    service: Service | None = None,
) -> cloudformation.Stack:
    """Add a nested stack whose template lives in the artifacts bucket under its content hash."""
    file_name = naming.template_file(logical_id)
    key = f"${{{naming.ARTIFACTS_PREFIX_PARAMETER}}}/{template_hash}/{file_name}"
    kwargs: dict[str, object] = {}
    if parameters:
        kwargs["Parameters"] = dict(sorted(parameters.items()))
    return t.add_resource(
        cloudformation.Stack(
            logical_id,
            # The virtual-hosted, regional S3 form: valid in every partition and region.
            TemplateURL=Sub(
                f"https://${{{naming.ARTIFACTS_BUCKET_PARAMETER}}}.s3.${{AWS::Region}}"
                f".${{AWS::URLSuffix}}/{key}"
            ),
            Tags=naming.tags(env, service),
            **kwargs,
        )
    )


def _artifacts_parameters(t: Template, env: Environment) -> None:
    """Where the nested templates are: no bucket is hard-coded."""
    add_parameter(
        t,
        naming.ARTIFACTS_BUCKET_PARAMETER,
        "S3 bucket holding the nested templates (created by `bin/deploy bootstrap`)",
        AllowedPattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        ConstraintDescription="an S3 bucket name",
    )
    add_parameter(
        t,
        naming.ARTIFACTS_PREFIX_PARAMETER,
        "Key prefix of the nested templates in the artifacts bucket",
        Default=naming.artifacts_prefix(env),
        AllowedPattern=r"^[A-Za-z0-9._/-]+[A-Za-z0-9]$",
    )


def _out(stack: cloudformation.Stack, name: str) -> GetAtt:
    """A nested stack's output."""
    return GetAtt(stack, f"Outputs.{name}")


def shared_stacks(
    t: Template, env: Environment, template_hashes: Mapping[str, str]
) -> dict[str, cloudformation.Stack]:
    """Network, edge and cluster, each wired to the outputs of the ones before, by logical id."""
    network = nested_stack(t, env, naming.NETWORK, template_hashes[naming.NETWORK])
    vpc = {"VpcId": _out(network, "VpcId"), "VpcCidr": _out(network, "VpcCidr")}
    edge = nested_stack(
        t,
        env,
        naming.EDGE,
        template_hashes[naming.EDGE],
        {**vpc, "PublicSubnetIds": _out(network, "PublicSubnetIds")},
    )
    cluster = nested_stack(
        t,
        env,
        naming.CLUSTER,
        template_hashes[naming.CLUSTER],
        {**vpc, "LoadBalancerSecurityGroupId": _out(edge, "LoadBalancerSecurityGroupId")},
    )
    return {naming.NETWORK: network, naming.EDGE: edge, naming.CLUSTER: cluster}


def service_stack(
    t: Template,
    env: Environment,
    service: Service,
    template_hash: str,
    shared: Mapping[str, cloudformation.Stack],
) -> cloudformation.Stack:
    """A service's nested stack and the root parameter that carries its image tag."""
    tag = add_parameter(
        t,
        naming.image_tag_parameter(service),
        f"Image tag of {service.name} (e.g. the git sha the CD pipeline pushed)",
        AllowedPattern=naming.IMAGE_TAG_PATTERN,
        ConstraintDescription="an ECR image tag other than 'latest'",
    )
    network, edge, cluster = (shared[k] for k in (naming.NETWORK, naming.EDGE, naming.CLUSTER))
    key: dict[str, object] = {}
    if env.kms_log_encryption:
        key[naming.LOGS_KEY_PARAMETER] = _out(cluster, naming.LOGS_KEY_PARAMETER)
    return nested_stack(
        t,
        env,
        naming.service_stack_id(service),
        template_hash,
        {
            **key,
            "LoadBalancerFullName": _out(edge, "LoadBalancerFullName"),
            "ImageTag": Ref(tag),
            "ClusterName": _out(cluster, "ClusterName"),
            "VpcId": _out(network, "VpcId"),
            "PrivateSubnetIds": _out(network, "PrivateSubnetIds"),
            "ServiceSecurityGroupId": _out(cluster, "ServiceSecurityGroupId"),
            "ListenerArn": _out(edge, "ListenerArn"),
            "NamespaceId": _out(cluster, "NamespaceId"),
        },
        service=service,
    )


# (nested stack, its output the root passes on, description)
PASSED_ON_OUTPUTS = (
    (naming.EDGE, "LoadBalancerUrl", "URL of the platform"),
    (naming.EDGE, "LoadBalancerDnsName", "DNS name of the load balancer"),
    (naming.CLUSTER, "ClusterName", "Name of the ECS cluster"),
    (naming.NETWORK, "VpcId", "ID of the environment's VPC"),
    (naming.NETWORK, "PrivateSubnetIds", "Private subnet IDs"),
    (naming.NETWORK, "PublicSubnetIds", "Public subnet IDs"),
)


def build(env: Environment, template_hashes: Mapping[str, str]) -> Template:
    """`template_hashes` maps each nested stack's logical id to its template's SHA-256."""
    t = new_template(env, f"root stack {naming.root_stack(env)}, nesting every part")
    _artifacts_parameters(t, env)
    shared = shared_stacks(t, env, template_hashes)
    services = [
        service_stack(t, env, service, template_hashes[naming.service_stack_id(service)], shared)
        for service in env.services
    ]
    for stack, name, description in PASSED_ON_OUTPUTS:
        add_output(t, name, _out(shared[stack], name), description)
    rollback = [t.add_resource(c) for c in alarms.composites(env, [shared[naming.EDGE], *services])]
    add_output(
        t,
        naming.ROLLBACK_ALARMS_OUTPUT,
        Join(",", [GetAtt(c, "Arn") for c in rollback]),
        "Rollback triggers: composite alarms over every rollback alarm (comma-separated ARNs)",
    )
    return t
