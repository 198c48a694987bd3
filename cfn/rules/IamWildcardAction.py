"""E9006: an IAM policy must not allow every action, or every action of a service."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn.rules._resolve import as_list, permission_statements


class IamWildcardAction(CloudFormationLintRule):
    id = "E9006"
    shortdesc = "No '*' or 'service:*' IAM actions"
    description = (
        "An Allow statement with Action '*' or 'service:*' grants every present and future "
        "action, far beyond what a workload needs. List the actions it calls."
    )
    source_url = (
        "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege"
    )
    tags = ["resources", "iam", "security"]

    def match(self, cfn):
        matches = []
        for path, stmt in permission_statements(cfn.template):
            if stmt.get("Effect") != "Allow":
                continue
            for i, action in enumerate(as_list(stmt.get("Action") or [])):
                if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                    where = (
                        [*path, "Action", i]
                        if isinstance(stmt.get("Action"), list)
                        else [*path, "Action"]
                    )
                    matches.append(
                        RuleMatch(
                            where,
                            f"Action {action!r} allows every action{'' if action == '*' else ' of the service'}; list the actions needed",
                        )
                    )
        return matches
