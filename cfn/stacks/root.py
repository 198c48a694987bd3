"""Root template of an environment (stack `<project>-<env>`).

Nests every part of the platform as an `AWS::CloudFormation::Stack`, wires one part's outputs to
the next part's parameters, and holds the parameters that change on every deploy: where the
templates are (artifacts bucket and key prefix; no bucket is hard-coded) and one image tag per
service.

Each nested `TemplateURL` ends in the SHA-256 of that nested template's rendered text, so the
URL of a part changes exactly when its template does: a change set then touches only the parts
that changed (a new image tag touches one service's stack only).

Outputs: the platform's URL, the cluster's name and the network's ids, passed on for people and
tools that read the root stack.
"""

from __future__ import annotations

from collections.abc import Mapping

from troposphere import GetAtt, Ref, Sub, Template, cloudformation

from cfn import naming
from cfn.config import Environment, Service
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


def build(env: Environment, template_hashes: Mapping[str, str]) -> Template:
    """`template_hashes` maps each nested stack's logical id to its template's SHA-256."""
    t = new_template(env, f"root stack {naming.root_stack(env)}, nesting every part")
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

    def out(stack: cloudformation.Stack, name: str) -> GetAtt:
        return GetAtt(stack, f"Outputs.{name}")

    network = nested_stack(t, env, naming.NETWORK, template_hashes[naming.NETWORK])
    edge = nested_stack(
        t,
        env,
        naming.EDGE,
        template_hashes[naming.EDGE],
        {
            "VpcId": out(network, "VpcId"),
            "VpcCidr": out(network, "VpcCidr"),
            "PublicSubnetIds": out(network, "PublicSubnetIds"),
        },
    )
    cluster = nested_stack(
        t,
        env,
        naming.CLUSTER,
        template_hashes[naming.CLUSTER],
        {
            "VpcId": out(network, "VpcId"),
            "VpcCidr": out(network, "VpcCidr"),
            "LoadBalancerSecurityGroupId": out(edge, "LoadBalancerSecurityGroupId"),
        },
    )
    for service in env.services:
        tag = add_parameter(
            t,
            naming.image_tag_parameter(service),
            f"Image tag of {service.name} (e.g. the git sha the CD pipeline pushed)",
            AllowedPattern=naming.IMAGE_TAG_PATTERN,
            ConstraintDescription="an ECR image tag other than 'latest'",
        )
        logical_id = naming.service_stack_id(service)
        nested_stack(
            t,
            env,
            logical_id,
            template_hashes[logical_id],
            {
                "ImageTag": Ref(tag),
                "ClusterName": out(cluster, "ClusterName"),
                "VpcId": out(network, "VpcId"),
                "PrivateSubnetIds": out(network, "PrivateSubnetIds"),
                "ServiceSecurityGroupId": out(cluster, "ServiceSecurityGroupId"),
                "ListenerArn": out(edge, "ListenerArn"),
                "NamespaceId": out(cluster, "NamespaceId"),
            },
            service=service,
        )

    for stack, name, description in (
        (edge, "LoadBalancerUrl", "URL of the platform"),
        (edge, "LoadBalancerDnsName", "DNS name of the load balancer"),
        (cluster, "ClusterName", "Name of the ECS cluster"),
        (network, "VpcId", "ID of the environment's VPC"),
        (network, "PrivateSubnetIds", "Private subnet IDs"),
        (network, "PublicSubnetIds", "Public subnet IDs"),
    ):
        add_output(t, name, out(stack, name), description)
    return t
