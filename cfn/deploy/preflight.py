"""What `plan` checks before it uploads anything or makes a change set: every problem at once.

- each image tag the change set would deploy exists in its ECR repository: the tags given with
  `--image-tag`, and for the services not named the tag they run now (a tag deleted from the
  repository since would fail the next task start); a missing repository and a missing tag are
  told apart;
- each secret the services read exists and is not scheduled for deletion (metadata only: a
  secret's value is never read).

Each check can be skipped with an explicit flag (`--skip-image-check`, `--skip-secret-check`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cfn import naming
from cfn.config import Environment
from cfn.deploy.aws import error_code
from cfn.deploy.errors import PreflightFailed


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    def add(self, problem: str, hint: str | None = None) -> None:
        self.problems.append(problem)
        if hint and hint not in self.hints:
            self.hints.append(hint)


def tags_to_check(
    env: Environment, image_tags: Mapping[str, str], current: Mapping[str, str]
) -> dict[str, str]:
    """Service -> tag the change set would run: given, else currently deployed (when known)."""
    out = {}
    for service in env.services:
        tag = image_tags.get(service.name) or current.get(naming.image_tag_parameter(service))
        if tag:
            out[service.name] = tag
    return out


def check_images(ecr: Any, env: Environment, tags: Mapping[str, str], found: Findings) -> None:
    by_name = {s.name: s for s in env.services}
    for name, tag in tags.items():
        repo = by_name[name].repository
        try:
            ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])
        except Exception as exc:
            code = error_code(exc)
            if code == "RepositoryNotFoundException":
                found.add(
                    f"{name}: ECR repository {repo!r} does not exist (image tag {tag})",
                    "create the repository and push the image, or fix `repository` in the "
                    "configuration (skip this check with --skip-image-check)",
                )
            elif code == "ImageNotFoundException":
                found.add(
                    f"{name}: image tag {tag!r} is not in ECR repository {repo!r}",
                    "push the image first, or fix --image-tag (skip this check with "
                    "--skip-image-check)",
                )
            else:
                raise


def check_secrets(secretsmanager: Any, env: Environment, found: Findings) -> None:
    create: list[tuple[str, str]] = []
    for service in env.services:
        for variable in service.secrets:
            name = naming.secret(env, service, variable)
            try:
                described = secretsmanager.describe_secret(SecretId=name)
            except Exception as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
                found.add(f"{service.name}: secret {name} does not exist")
                create.append((service.name, variable))
                continue
            if described.get("DeletedDate"):
                found.add(
                    f"{service.name}: secret {name} is scheduled for deletion "
                    f"(since {described['DeletedDate']})",
                    f"restore it: aws secretsmanager restore-secret --region {env.region} "
                    f"--secret-id {name}",
                )
    if create:
        found.hints.append(
            "set each (the value is read from a hidden prompt or stdin, never printed):"
        )
    for service_name, variable in create:
        found.hints.append(f"  bin/deploy secret set --env {env.name} {service_name} {variable}")


def run(
    clients: Any,
    env: Environment,
    image_tags: Mapping[str, str],
    current: Mapping[str, str],
    *,
    images: bool = True,
    secrets: bool = True,
) -> None:
    """Raise PreflightFailed listing every problem; return quietly when there is none."""
    found = Findings()
    if images:
        check_images(clients.ecr, env, tags_to_check(env, image_tags, current), found)
    if secrets:
        check_secrets(clients.secretsmanager, env, found)
    if found.problems:
        raise PreflightFailed(found.problems, found.hints)
