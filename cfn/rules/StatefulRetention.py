"""W9013: where the template asks to retain stateful resources, each one says so."""

from __future__ import annotations

from functools import cache

import cfnlint.data.AdditionalSpecs
from cfnlint.helpers import load_resource
from cfnlint.rules import CloudFormationLintRule, RuleMatch

# The template declares its intent in Metadata (the project's templates write it from config);
# `--configure-rule W9013:always=true` applies the rule to any template.
METADATA_KEY = "InsightXI"
RETAIN_FLAG = "RetainStatefulResources"
EXTRA_STATEFUL = {"AWS::ServiceDiscovery::PrivateDnsNamespace", "AWS::SecretsManager::Secret"}
# A nested stack holds no data of its own: its resources carry their own policies.
NOT_STATEFUL = {"AWS::CloudFormation::Stack"}
KEEPING = {"Retain", "RetainExceptOnCreate", "Snapshot"}


@cache
def stateful_types() -> frozenset[str]:
    spec = load_resource(cfnlint.data.AdditionalSpecs, "StatefulResources.json")
    return (frozenset(spec["ResourceTypes"]) | EXTRA_STATEFUL) - NOT_STATEFUL


class StatefulRetention(CloudFormationLintRule):
    id = "W9013"
    shortdesc = "Stateful resources retained where the environment asks"
    description = (
        "When the template's Metadata sets InsightXI.RetainStatefulResources (or the rule is "
        "configured with always=true), every stateful resource (log groups, the Cloud Map "
        "namespace, tables, buckets, keys, ...) must have DeletionPolicy and "
        "UpdateReplacePolicy that keep its data (Retain or Snapshot)."
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html"
    tags = ["resources", "deletionpolicy", "updatereplacepolicy", "data"]

    def __init__(self) -> None:
        super().__init__()
        self.config_definition = {"always": {"default": False, "type": "boolean"}}
        self.configure()

    def match(self, cfn):
        metadata = cfn.template.get("Metadata")
        flags = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
        wanted = isinstance(flags, dict) and flags.get(RETAIN_FLAG) is True
        if not (wanted or self.config.get("always")):
            return []
        matches = []
        for name, res in (cfn.template.get("Resources") or {}).items():
            if not isinstance(res, dict) or res.get("Type") not in stateful_types():
                continue
            for attribute in ("DeletionPolicy", "UpdateReplacePolicy"):
                if res.get(attribute) not in KEEPING:
                    matches.append(
                        RuleMatch(
                            ["Resources", name],
                            (
                                f"{res.get('Type')} {name} is stateful and must be retained here: set "
                                f"{attribute} to Retain (it is {res.get(attribute, 'not set')})"
                            ),
                        )
                    )
        return matches
