"""E9002: a container image must name a tag other than `latest` (or a digest)."""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from cfn.rules._resolve import UNKNOWN, partial, resources


def image_problem(image: str) -> str | None:
    """Why the image reference is not pinned, or None (pinned, or not knowable)."""
    if "@" in image:
        return None  # a digest pins the exact image
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return None if UNKNOWN in last else "has no tag (Docker then pulls 'latest')"
    tag = last.rsplit(":", 1)[1]
    if UNKNOWN in tag:
        return None
    if tag == "latest":
        return "uses the tag 'latest'"
    return None


class ImageTag(CloudFormationLintRule):
    id = "E9002"
    shortdesc = "Container images are pinned, never 'latest'"
    description = (
        "A container image with the tag 'latest' or no tag at all runs whatever was pushed last: "
        "a deploy cannot say what it runs, and a rollback does not roll back. Name an immutable "
        "tag (a git sha) or a digest."
    )
    source_url = (
        "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/container-considerations.html"
    )
    tags = ["resources", "ecs", "images"]

    def match(self, cfn):
        matches = []
        for name, props in resources(cfn.template, "AWS::ECS::TaskDefinition"):
            containers = props.get("ContainerDefinitions")
            for i, c in enumerate(containers if isinstance(containers, list) else []):
                if not isinstance(c, dict) or "Image" not in c:
                    continue
                image = partial(cfn.template, c["Image"])
                problem = image_problem(image) if image is not None else None
                if problem:
                    shown = image.replace(UNKNOWN, "…")
                    path = ["Resources", name, "Properties", "ContainerDefinitions", i, "Image"]
                    matches.append(RuleMatch(path, f"Image {shown} {problem}; pin a tag or digest"))
        return matches
