"""W9007: `Resource: "*"` on actions that can be limited to specific resources."""

from __future__ import annotations

import fnmatch
from functools import cache

from cfnlint.data import AdditionalSpecs
from cfnlint.helpers import load_resource
from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn.rules._resolve import as_list, permission_statements


@cache
def _service_map() -> dict:
    # cfn-lint's own copy of the IAM service reference: per action, its resource types.
    return load_resource(AdditionalSpecs, "Policies.json")


def supports_resources(action: str) -> bool | None:
    """Whether the action (wildcards allowed) can be scoped to resources; None if unknown."""
    if ":" not in action:
        return None
    service, name = action.lower().split(":", 1)
    actions = _service_map().get(service, {}).get("Actions")
    if not actions:
        return None
    matched = [a for a in actions if fnmatch.fnmatchcase(a, name)]
    if not matched:
        return None
    return any(actions[a].get("Resources") for a in matched)


class IamWildcardResource(CloudFormationLintRule):
    id = "W9007"
    shortdesc = "No Resource '*' where the actions support resource ARNs"
    description = (
        "An Allow statement with Resource '*' on actions that support resource-level "
        "permissions grants them on every resource of the account. Name the ARNs. ('*' stays "
        "right for actions without resource-level permissions, such as ecr:GetAuthorizationToken.)"
    )
    source_url = "https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html"
    tags = ["resources", "iam", "security"]

    def match(self, cfn):
        matches = []
        for path, stmt in permission_statements(cfn.template):
            if stmt.get("Effect") != "Allow" or "*" not in as_list(stmt.get("Resource") or []):
                continue
            scoped = [
                a
                for a in as_list(stmt.get("Action") or [])
                if isinstance(a, str) and supports_resources(a)
            ]
            if scoped:
                matches.append(
                    RuleMatch(
                        [*path, "Resource"],
                        (
                            f"Resource '*' on {', '.join(scoped)}, which can be limited to resource ARNs"
                        ),
                    )
                )
        return matches
