"""E9018: every container runs as a non-root user, read-only, with a memory hard limit."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn.rules._resolve import as_list, resources


def _root_user(user: object) -> bool:
    if not isinstance(user, str):
        return not isinstance(user, dict)  # a missing user runs as root; a Ref is unknowable
    name, _, group = user.partition(":")
    return name in ("", "0", "root") or group in ("0", "root")


class ContainerHardened(CloudFormationLintRule):
    id = "E9018"
    shortdesc = "Containers run non-root, read-only, memory-limited"
    description = (
        "Each container definition sets User to a non-root user, ReadonlyRootFilesystem to "
        "true (writable paths as volumes) and Memory (a hard limit)."
    )
    source_url = (
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/security-tasks-containers.html"
    )
    tags = ["resources", "ecs", "security"]

    def match(self, cfn):
        matches = []
        for name, props in resources(cfn.template, "AWS::ECS::TaskDefinition"):
            for i, c in enumerate(as_list(props.get("ContainerDefinitions") or [])):
                if not isinstance(c, dict):
                    continue
                path = ["Resources", name, "Properties", "ContainerDefinitions", i]
                problems = []
                if _root_user(c.get("User")):
                    problems.append("runs as root (set User to a non-root uid:gid)")
                if c.get("ReadonlyRootFilesystem") is not True:
                    problems.append("has a writable root filesystem")
                if c.get("Memory") is None:
                    problems.append("has no memory hard limit (Memory)")
                matches += [
                    RuleMatch(path, f"Container {c.get('Name', i)} of {name} {p}") for p in problems
                ]
        return matches
