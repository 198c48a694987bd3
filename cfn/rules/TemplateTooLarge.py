"""E9011: a template body over 1,000,000 bytes cannot be deployed at all."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn.rules._resolve import S3_LIMIT, template_size


class TemplateTooLarge(CloudFormationLintRule):
    id = "E9011"
    shortdesc = "Template within 1,000,000 bytes"
    description = "CloudFormation rejects a template over 1,000,000 bytes, even through S3."
    source_url = (
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html"
    )
    tags = ["limits", "template"]

    def match(self, cfn):
        size = template_size(cfn)
        if size > S3_LIMIT:
            return [
                RuleMatch([], f"Template is {size:,} bytes; CloudFormation allows {S3_LIMIT:,}")
            ]
        return []
