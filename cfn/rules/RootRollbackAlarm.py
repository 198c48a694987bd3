"""E9017: a root stack (one that nests stacks) outputs its rollback alarms."""

from __future__ import annotations

import json

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn.naming import ROLLBACK_ALARMS_OUTPUT
from cfn.rules._resolve import resources

ALARM_TYPES = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")


class RootRollbackAlarm(CloudFormationLintRule):
    id = "E9017"
    shortdesc = "Root stacks output their rollback alarms"
    description = (
        f"A template that nests stacks is deployed as a whole: it must output "
        f"{ROLLBACK_ALARMS_OUTPUT}, referring to alarms it defines, so that a deployment can be "
        "rolled back when one of them fires."
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-rollback-triggers.html"
    tags = ["resources", "cloudformation", "rollback"]

    def match(self, cfn):
        template = cfn.template
        if not any(resources(template, "AWS::CloudFormation::Stack")):
            return []
        alarms = {name for name, _ in resources(template, *ALARM_TYPES)}
        output = (template.get("Outputs") or {}).get(ROLLBACK_ALARMS_OUTPUT)
        text = json.dumps(output.get("Value")) if isinstance(output, dict) else ""
        if output is None:
            return [
                RuleMatch(["Resources"], f"The root stack has no {ROLLBACK_ALARMS_OUTPUT} output")
            ]
        if not any(f'"{a}"' in text for a in alarms):
            return [
                RuleMatch(
                    ["Outputs", ROLLBACK_ALARMS_OUTPUT],
                    f"{ROLLBACK_ALARMS_OUTPUT} refers to no alarm of this template",
                )
            ]
        return []
