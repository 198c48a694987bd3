"""W9008: a role assumed by an AWS service should only be assumed on this account's behalf."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn.rules._resolve import as_list, resources

KEYS = {"aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths"}


def _condition_keys(condition) -> set[str]:
    keys: set[str] = set()
    if isinstance(condition, dict):
        for operator_block in condition.values():
            if isinstance(operator_block, dict):
                keys |= {str(k).lower() for k in operator_block}
    return keys


class TrustSourceCondition(CloudFormationLintRule):
    id = "W9008"
    shortdesc = "Service trust policies carry aws:SourceAccount or aws:SourceArn"
    description = (
        "A role trusted by an AWS service principal without an aws:SourceAccount or "
        "aws:SourceArn condition can be used by that service on behalf of another account "
        "(the confused deputy problem). Add the condition."
    )
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html"
    tags = ["resources", "iam", "security"]

    def match(self, cfn):
        matches = []
        for name, props in resources(cfn.template, "AWS::IAM::Role"):
            doc = props.get("AssumeRolePolicyDocument")
            if not isinstance(doc, dict):
                continue
            for i, stmt in enumerate(as_list(doc.get("Statement") or [])):
                if not isinstance(stmt, dict) or stmt.get("Effect") != "Allow":
                    continue
                principal = stmt.get("Principal")
                services = principal.get("Service") if isinstance(principal, dict) else None
                if not services:
                    continue
                if not KEYS & _condition_keys(stmt.get("Condition")):
                    shown = ", ".join(str(s) for s in as_list(services))
                    path = [
                        "Resources",
                        name,
                        "Properties",
                        "AssumeRolePolicyDocument",
                        "Statement",
                        i,
                    ]
                    matches.append(
                        RuleMatch(
                            path,
                            (
                                f"Role {name} trusts {shown} without an aws:SourceAccount or "
                                "aws:SourceArn condition"
                            ),
                        )
                    )
        return matches
