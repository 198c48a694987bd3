"""`plan`: from the committed templates to a reviewed change set and a plan file.

1. refuse when templates/ is not what the code renders;
2. upload the environment's templates to the artifacts bucket (content-addressed);
3. check every secret the services read exists (by name, never reading a value);
4. create one change set on the root stack (CREATE or UPDATE, nested stacks included) with the
   image tags given, the others kept at their current value;
5. describe it and every nested change set, and build the review;
6. write the plan file `execute` needs: what was planned, against which stack state.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfn import build, naming, render
from cfn.config import Environment
from cfn.deploy import artifacts, bootstrap, changesets, planfile, review
from cfn.deploy.aws import Clients, error_code
from cfn.deploy.errors import DeployError, MissingSecrets

CAPABILITIES = ("CAPABILITY_NAMED_IAM",)


@dataclass
class PlanResult:
    """`review` is None when there is nothing to change."""

    review: review.Review | None
    plan: planfile.Plan | None
    uploaded: list[artifacts.Artifact]


def parse_image_tags(env: Environment, pairs: tuple[str, ...]) -> dict[str, str]:
    """`SERVICE=TAG` pairs from the command line, checked against the catalogue."""
    known = [s.name for s in env.services]
    tags: dict[str, str] = {}
    for pair in pairs:
        service, sep, tag = pair.partition("=")
        if not sep or not service or not tag:
            raise DeployError(
                f"--image-tag {pair!r} is not SERVICE=TAG", f"services: {', '.join(known)}"
            )
        if service not in known:
            raise DeployError(
                f"--image-tag: unknown service {service!r}", f"services: {', '.join(known)}"
            )
        if not re.match(naming.IMAGE_TAG_PATTERN, tag):
            raise DeployError(
                f"--image-tag {service}: {tag!r} is not an allowed tag",
                "use an immutable tag such as the git sha (letters, digits, '.', '_', '-'; "
                "not 'latest')",
            )
        tags[service] = tag
    return tags


def _check_secrets(secretsmanager: Any, env: Environment) -> None:
    missing = []
    for service in env.services:
        for variable in service.secrets:
            name = naming.secret(env, service, variable)
            try:
                # Metadata only: the value is never read.
                secretsmanager.describe_secret(SecretId=name)
            except Exception as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
                missing.append(name)
    if missing:
        raise MissingSecrets(missing, env.region)


def _parameters(
    env: Environment, state: changesets.StackState, bucket: str, tags: Mapping[str, str]
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The root's parameters for the change set, and their record for the plan file."""
    params: list[dict[str, Any]] = []
    record: dict[str, dict[str, Any]] = {}

    def explicit(key: str, value: str) -> None:
        params.append({"ParameterKey": key, "ParameterValue": value})
        record[key] = {"value": value}

    explicit(naming.ARTIFACTS_BUCKET_PARAMETER, bucket)
    explicit(naming.ARTIFACTS_PREFIX_PARAMETER, naming.artifacts_prefix(env))
    missing = []
    for service in env.services:
        key = naming.image_tag_parameter(service)
        if service.name in tags:
            explicit(key, tags[service.name])
        elif state.change_set_type == "UPDATE" and key in state.parameters:
            params.append({"ParameterKey": key, "UsePreviousValue": True})
            record[key] = {"value": state.parameters[key], "previous": True}
        else:
            missing.append(service.name)
    if missing:
        why = (
            "the stack does not exist yet"
            if state.change_set_type == "CREATE"
            else "these services are new in the stack"
        )
        raise DeployError(
            f"an image tag is required for {', '.join(missing)}: {why}",
            "add --image-tag " + " --image-tag ".join(f"{m}=<git sha>" for m in missing),
        )
    return params, record


def change_set_name(stack: str, template_sha: str, record: Mapping[str, Any]) -> str:
    """Unique, readable, and saying what it holds: stack, UTC time, hash of template + values."""
    digest = hashlib.sha256(
        (template_sha + json.dumps(record, sort_keys=True)).encode()
    ).hexdigest()[:10]
    return f"{stack}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{digest}"


def run(
    clients: Clients,
    env: Environment,
    *,
    image_tags: Mapping[str, str],
    templates_dir: Path,
    plan_path: Path | None,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] = lambda s: None,
) -> PlanResult:
    rendered = render.render_env(env)
    differences = build.compare(rendered, templates_dir)
    if differences:
        raise DeployError(
            f"templates/{env.name} is not what the code renders: "
            + "; ".join(str(d) for d in differences[:5]),
            "run bin/build-templates, review and commit, then plan again",
        )
    account = clients.sts.get_caller_identity()["Account"]
    bucket = bootstrap.artifacts_bucket(clients.cloudformation, env)

    stack = naming.root_stack(env)
    state = changesets.stack_state(clients.cloudformation, stack)
    changesets.check_can_change(state, clients.region)
    params, record = _parameters(env, state, bucket, image_tags)

    deployable = [r for r in rendered if r.filename != naming.BOOTSTRAP_TEMPLATE]
    uploaded = artifacts.upload(clients.s3, bucket, naming.artifacts_prefix(env), deployable)
    progress(
        f"templates: {sum(a.uploaded for a in uploaded)} uploaded, "
        f"{sum(not a.uploaded for a in uploaded)} already in s3://{bucket}"
    )
    _check_secrets(clients.secretsmanager, env)

    root = next(r for r in deployable if r.filename == naming.ROOT_TEMPLATE)
    root_key = artifacts.key_for(naming.artifacts_prefix(env), root)
    name = change_set_name(stack, root.sha256, record)
    progress(f"creating change set {name} ({state.change_set_type}) on {stack}")
    try:
        desc = changesets.create_change_set(
            clients.cloudformation,
            stack=stack,
            name=name,
            change_set_type=state.change_set_type,
            template_url=artifacts.url_for(bucket, clients.region, root_key),
            parameters=params,
            tags=naming.tag_dict(env),
            capabilities=CAPABILITIES,
            description=f"bin/deploy plan --env {env.name}",
            sleep=sleep,
        )
    except changesets.NoChanges:
        return PlanResult(None, None, uploaded)

    tree = changesets.describe_tree(clients.cloudformation, desc["ChangeSetId"])
    # DescribeChangeSet does not say whether the change set creates or updates: we know.
    tree.description.setdefault("ChangeSetType", state.change_set_type)
    result = review.from_described(tree, clients.region, plan_file=str(plan_path or ""))
    plan = planfile.Plan(
        environment=env.name,
        account=account,
        region=clients.region,
        stack=stack,
        stack_id=desc["StackId"],
        change_set_id=desc["ChangeSetId"],
        change_set_name=name,
        change_set_type=state.change_set_type,
        stack_status=state.status,
        stack_last_updated=state.last_updated,
        artifacts_bucket=bucket,
        templates={
            a.filename: planfile.TemplateArtifact(key=a.key, sha256=a.sha256) for a in uploaded
        },
        parameters=record,
        change_count=len(result.changes),
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    if plan_path is not None:
        planfile.write(plan_path, plan)
    return PlanResult(result, plan, uploaded)
