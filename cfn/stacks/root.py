"""Root template of an environment (stack `<project>-<env>`).

Nests every part of the platform as an `AWS::CloudFormation::Stack`, wires one part's outputs to
the next part's parameters, and holds the parameters that change on every deploy: where the
templates are (artifacts bucket and key prefix; no bucket is hard-coded) and one image tag per
service.

Each nested `TemplateURL` ends in the SHA-256 of that nested template's rendered text, so the
URL of a part changes exactly when its template does: a change set then touches only the parts
that changed (a new image tag touches one service's stack only).

Outputs: the network's ids, passed on for people and tools that read the root stack.
"""

from __future__ import annotations

from collections.abc import Mapping

from troposphere import GetAtt, Sub, Template, cloudformation

from cfn import naming
from cfn.config import Environment
from cfn.stacks._common import add_output, add_parameter, new_template


def nested_stack(
    t: Template,
    env: Environment,
    logical_id: str,
    template_hash: str,
    parameters: Mapping[str, object] | None = None,
    service=None,
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
    t = new_template(env.name, f"root stack {naming.root_stack(env)}, nesting every part")
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

    network = nested_stack(t, env, naming.NETWORK, template_hashes[naming.NETWORK])
    for name, description in (
        ("VpcId", "ID of the environment's VPC"),
        ("VpcCidr", "IPv4 CIDR block of the VPC"),
        ("PublicSubnetIds", "Public subnet IDs"),
        ("PrivateSubnetIds", "Private subnet IDs"),
    ):
        add_output(t, name, GetAtt(network, f"Outputs.{name}"), description)
    return t
