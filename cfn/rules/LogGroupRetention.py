"""E9003: a log group must say how long it keeps its logs."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn.rules._resolve import resources


class LogGroupRetention(CloudFormationLintRule):
    id = "E9003"
    shortdesc = "Log groups have a retention"
    description = (
        "A log group without RetentionInDays keeps every log forever: storage grows without "
        "bound and so does its cost. Set RetentionInDays."
    )
    source_url = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/Working-with-log-groups-and-streams.html#SettingLogRetention"
    tags = ["resources", "logs", "cost"]

    def match(self, cfn):
        return [
            RuleMatch(["Resources", name], f"Log group {name} has no RetentionInDays")
            for name, props in resources(cfn.template, "AWS::Logs::LogGroup")
            if "RetentionInDays" not in props
        ]
