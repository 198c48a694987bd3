"""E9014: a log group is encrypted with a customer managed KMS key."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn.rules._resolve import opted_out, resources


class LogGroupKms(CloudFormationLintRule):
    id = "E9014"
    shortdesc = "Log groups are encrypted with a KMS key"
    description = (
        "A log group without KmsKeyId is encrypted with a key nobody in the account controls or "
        "audits. Set KmsKeyId to the environment's key, or record the opt-out in the template's "
        "Metadata (InsightXI.OptOuts.KmsLogEncryption with the reason)."
    )
    source_url = (
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"
    )
    tags = ["resources", "logs", "security", "kms"]

    def match(self, cfn):
        if opted_out(cfn.template, "KmsLogEncryption"):
            return []
        return [
            RuleMatch(["Resources", name], f"Log group {name} has no KmsKeyId")
            for name, props in resources(cfn.template, "AWS::Logs::LogGroup")
            if not props.get("KmsKeyId")
        ]
