"""W9012: resources, parameters or outputs above 90 % of CloudFormation's quotas."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn.rules._resolve import COUNT_LIMITS

WARN_AT = 0.9


class TemplateCounts(CloudFormationLintRule):
    id = "W9012"
    shortdesc = "Resources, parameters and outputs below 90 % of their quotas"
    description = (
        "A template near the quotas of 500 resources, 200 parameters or 200 outputs breaks with "
        "the next addition. Split it into nested stacks before it does."
    )
    source_url = (
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html"
    )
    tags = ["limits", "template"]

    def match(self, cfn):
        matches = []
        for section, limit in COUNT_LIMITS.items():
            items = cfn.template.get(section)
            count = len(items) if isinstance(items, dict) else 0
            if count > WARN_AT * limit:
                matches.append(
                    RuleMatch(
                        [section],
                        (
                            f"{count} {section.lower()}: above {int(WARN_AT * 100)} % of the quota of {limit}"
                        ),
                    )
                )
        return matches
