"""E9001: a container environment variable named like a secret holds a literal value."""

from __future__ import annotations

import re

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn.rules._resolve import resources

SECRET_NAME = re.compile(
    r"(^|_)(API_?KEY|KEY|SECRET|TOKEN|PASSWORD|PASSWD|PWD|CREDENTIALS?|PRIVATE|AUTH)(_|$)", re.I
)


class SecretInEnvironment(CloudFormationLintRule):
    id = "E9001"
    shortdesc = "No literal secret in a container's environment"
    description = (
        "A container environment variable whose name looks like a secret (KEY, SECRET, TOKEN, "
        "PASSWORD, CREDENTIAL, ...) must not hold a literal value: anyone who can read the "
        "template or describe the task definition reads it. Use the container's Secrets "
        "(Secrets Manager or SSM Parameter Store) instead."
    )
    source_url = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html"
    tags = ["resources", "ecs", "security", "secrets"]

    def match(self, cfn):
        matches = []
        for name, props in resources(cfn.template, "AWS::ECS::TaskDefinition"):
            containers = props.get("ContainerDefinitions")
            if not isinstance(containers, list):
                continue
            for i, c in enumerate(containers):
                env = c.get("Environment") if isinstance(c, dict) else None
                for j, var in enumerate(env if isinstance(env, list) else []):
                    if not isinstance(var, dict):
                        continue
                    key, value = var.get("Name"), var.get("Value")
                    literal = isinstance(value, str | int | float) and not isinstance(value, bool)
                    if isinstance(key, str) and SECRET_NAME.search(key) and literal and value != "":
                        path = [
                            "Resources",
                            name,
                            "Properties",
                            "ContainerDefinitions",
                            i,
                            "Environment",
                            j,
                            "Value",
                        ]
                        matches.append(
                            RuleMatch(
                                path,
                                (
                                    f"Environment variable {key} of container {i} looks like a secret "
                                    "and has a literal value; move it to the container's Secrets"
                                ),
                            )
                        )
        return matches
