"""W9010: a template body over 51,200 bytes can only be deployed through S3."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn.rules._resolve import BODY_LIMIT, S3_LIMIT, template_size


class TemplateNeedsS3(CloudFormationLintRule):
    id = "W9010"
    shortdesc = "Template over 51,200 bytes needs S3"
    description = (
        "A template body over 51,200 bytes cannot be passed inline (TemplateBody); it must be "
        "uploaded to S3 and passed as TemplateURL."
    )
    source_url = (
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html"
    )
    tags = ["limits", "template"]

    def match(self, cfn):
        size = template_size(cfn)
        if BODY_LIMIT < size <= S3_LIMIT:
            return [
                RuleMatch(
                    [],
                    (
                        f"Template is {size:,} bytes, over the {BODY_LIMIT:,} bytes of an inline body; "
                        "deploy it through S3 (TemplateURL)"
                    ),
                )
            ]
        return []
