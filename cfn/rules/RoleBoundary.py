"""E9019: every IAM role has a permissions boundary (or records why it cannot have one)."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn.rules._resolve import resources

# A role's own Metadata may record why it has no boundary: `InsightXI.NoPermissionsBoundary`.
EXEMPTION = "NoPermissionsBoundary"


def _exempt(resource: Any) -> bool:
    """The role records, with a reason, why it carries no boundary (e.g. the CloudFormation
    service role the boundary's conditions bind, which an administrator creates)."""
    metadata = resource.get("Metadata") if isinstance(resource, dict) else None
    project = metadata.get("InsightXI") if isinstance(metadata, dict) else None
    reason = project.get(EXEMPTION) if isinstance(project, dict) else None
    return isinstance(reason, str) and bool(reason.strip())


class RoleBoundary(CloudFormationLintRule):
    id = "E9019"
    shortdesc = "IAM roles have a permissions boundary"
    description = (
        "A role without PermissionsBoundary can be given any rights by whoever edits the "
        "template, more than the deployer has. Set PermissionsBoundary to the environment's "
        "boundary policy, or record the reason in the role's Metadata "
        f"(InsightXI.{EXEMPTION})."
    )
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html"
    tags = ["resources", "iam", "security"]

    def match(self, cfn):
        all_resources = cfn.template.get("Resources") or {}
        return [
            RuleMatch(["Resources", name], f"Role {name} has no PermissionsBoundary")
            for name, props in resources(cfn.template, "AWS::IAM::Role")
            if not props.get("PermissionsBoundary") and not _exempt(all_resources.get(name))
        ]
