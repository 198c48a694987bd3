"""`plan`: from the committed templates to a reviewed change set and a plan file.

1. refuse a protected environment that still has the example domain or zone, and templates/
   that are not what the code renders;
2. preflight: every image tag exists in ECR, every secret exists and is not being deleted
   (`cfn.deploy.preflight`, all problems at once, before anything is uploaded);
3. upload the environment's templates to the artifacts bucket (content-addressed);
4. create one change set on the root stack (CREATE or UPDATE, nested stacks included) with the
   image tags given, the others kept at their current value, the bootstrap stack's service
   role as `RoleARN` (CloudFormation acts with it, not with the deployer's credentials), and
   the deployed root's rollback alarms as its rollback triggers (`cfn.deploy.envelope`);
5. detect drift of the deployed stacks (bounded; `--no-drift` skips it);
6. describe the change set and every nested one, and build the review; a change set made only of
   Dynamic evaluations that change nothing is deleted and reported as "no changes";
7. write the plan file `execute` needs: what was planned, against which stack state, and the
   security broadenings execute must have confirmed. A plan that finds no changes marks older
   plan files of the environment as spent.

A change set left half-made (an error or Ctrl-C once it was asked for) is deleted, so that
nothing unreviewed is left waiting; a FAILED one is kept for inspection, and says so.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfn import build, naming, render
from cfn.config import Environment
from cfn.deploy import (
    artifacts,
    bootstrap,
    changesets,
    drift,
    envelope,
    planfile,
    preflight,
    review,
)
from cfn.deploy.aws import Clients, error_code
from cfn.deploy.errors import ChangeSetFailed, DeployError, Interrupted

CAPABILITIES = ("CAPABILITY_NAMED_IAM",)


@dataclass
class PlanResult:
    """`review` is None when there is nothing to change."""

    review: review.Review | None
    plan: planfile.Plan | None
    uploaded: list[artifacts.Artifact]
    # With no changes: the Dynamic evaluations found that change nothing, if any.
    no_ops: list[review.Change] = field(default_factory=list)


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


def _drift(
    clients: Clients,
    state: changesets.StackState,
    check: bool,
    timeout: float,
    sleep: Callable[[float], None],
    progress: Callable[[str], None],
) -> drift.DriftReport | None:
    if state.change_set_type == "CREATE":
        return None  # nothing deployed, nothing to drift
    if not check:
        return drift.DriftReport(False, "skipped (--no-drift)")
    progress(f"detecting drift of {state.name} and its nested stacks (at most {int(timeout)} s)")
    report = drift.detect(clients.cloudformation, state.name, timeout=timeout, sleep=sleep)
    progress(report.line())
    return report


def run(
    clients: Clients,
    env: Environment,
    *,
    image_tags: Mapping[str, str],
    templates_dir: Path,
    plan_path: Path | None,
    check_drift: bool = True,
    revert_drift: bool = False,
    drift_timeout: float = drift.DRIFT_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] = lambda s: None,
    check_images: bool = True,
    check_secrets: bool = True,
    allow_replace: tuple[str, ...] = (),
) -> PlanResult:
    """Plan; on an error or Ctrl-C after the change set was asked for, delete it again.
    `allow_replace`: protected resources this plan may replace or remove (STACK/LOGICAL_ID)."""
    made: list[str] = []
    try:
        return _run(
            clients,
            env,
            image_tags=image_tags,
            templates_dir=templates_dir,
            plan_path=plan_path,
            check_drift=check_drift,
            revert_drift=revert_drift,
            drift_timeout=drift_timeout,
            sleep=sleep,
            progress=progress,
            checks={"images": check_images, "secrets": check_secrets},
            made=made,
            allow_replace=allow_replace,
        )
    except KeyboardInterrupt:
        raise Interrupted(
            "interrupted: " + _discard(clients, naming.root_stack(env), made)
        ) from None
    except ChangeSetFailed:
        raise  # kept on purpose, for inspection
    except Exception:
        _discard(clients, naming.root_stack(env), made)
        raise


def _discard(clients: Clients, stack: str, made: list[str]) -> str:
    """Delete the half-made change set (if any); say what was done."""
    if not made:
        return "no change set was made"
    try:
        clients.cloudformation.delete_change_set(StackName=stack, ChangeSetName=made[0])
    except Exception as exc:  # best effort: the first error or the interrupt is what matters
        if error_code(exc) in ("ChangeSetNotFound", "ChangeSetNotFoundException"):
            return f"change set {made[0]} was not created"
        why = error_code(exc) or type(exc).__name__  # not the text: it can be a whole web page
        return f"change set {made[0]} may be left ({why}); delete it: " + (
            f"aws cloudformation delete-change-set --region {clients.region} --stack-name "
            f"{stack} --change-set-name {made[0]}"
        )
    return f"the half-made change set {made[0]} was deleted"


def _run(
    clients: Clients,
    env: Environment,
    *,
    image_tags: Mapping[str, str],
    templates_dir: Path,
    plan_path: Path | None,
    check_drift: bool,
    revert_drift: bool,
    drift_timeout: float,
    sleep: Callable[[float], None],
    progress: Callable[[str], None],
    checks: Mapping[str, bool],
    made: list[str],
    allow_replace: tuple[str, ...],
) -> PlanResult:
    envelope.refuse_example_values(env)
    envelope.refuse_allow_replace(env, allow_replace)
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
    role = bootstrap.service_role(clients.cloudformation, env)

    stack = naming.root_stack(env)
    state = changesets.stack_state(clients.cloudformation, stack)
    changesets.check_can_change(state, clients.region)
    if revert_drift and state.change_set_type == "CREATE":
        raise DeployError(
            f"--revert-drift: {stack} is not deployed yet, so nothing can have drifted",
            "plan without --revert-drift",
        )
    params, record = _parameters(env, state, bucket, image_tags)
    safety = envelope.rollback(env, state)
    preflight.run(clients, env, image_tags, state.parameters, **checks)

    deployable = [r for r in rendered if r.filename != naming.BOOTSTRAP_TEMPLATE]
    uploaded = artifacts.upload(clients.s3, bucket, naming.artifacts_prefix(env), deployable)
    progress(
        f"templates: {sum(a.uploaded for a in uploaded)} uploaded, "
        f"{sum(not a.uploaded for a in uploaded)} already in s3://{bucket}"
    )
    drifted = _drift(clients, state, check_drift, drift_timeout, sleep, progress)

    root = next(r for r in deployable if r.filename == naming.ROOT_TEMPLATE)
    root_key = artifacts.key_for(naming.artifacts_prefix(env), root)
    name = change_set_name(stack, root.sha256, record)
    made.append(name)
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
            deployment_mode="REVERT_DRIFT" if revert_drift else None,
            sleep=sleep,
            extra={**safety.parameters, "RoleARN": role},
        )
    except changesets.NoChanges:
        return PlanResult(None, None, uploaded)

    result = _review(clients, desc, state, record, deployable, drifted, plan_path)
    allow_replace, allowed = envelope.guard_replacements(env, result.real, allow_replace)
    result.safety = [f"service role: {role}", *safety.lines, *allowed]
    if not result.has_changes:
        # Only Dynamic evaluations that change nothing: as good as "no changes".
        clients.cloudformation.delete_change_set(ChangeSetName=desc["ChangeSetId"])
        return PlanResult(None, None, uploaded, no_ops=result.no_ops)
    plan = _plan(env, account, clients.region, desc, state, bucket, uploaded, record, result)
    plan = plan.model_copy(update={"allow_replace": allow_replace})
    if plan_path is not None:
        planfile.write(plan_path, plan)
    return PlanResult(result, plan, uploaded)


def _plan(
    env: Environment,
    account: str,
    region: str,
    desc: Mapping[str, Any],
    state: changesets.StackState,
    bucket: str,
    uploaded: list[artifacts.Artifact],
    record: Mapping[str, dict[str, Any]],
    result: review.Review,
) -> planfile.Plan:
    """What execute needs: the change set, the stack state it was made against, the inputs and
    the security broadenings to confirm."""
    return planfile.Plan(
        environment=env.name,
        account=account,
        region=region,
        stack=state.name,
        stack_id=desc["StackId"],
        change_set_id=desc["ChangeSetId"],
        change_set_name=desc.get("ChangeSetName") or result.change_set_name,
        change_set_type=state.change_set_type,
        stack_status=state.status,
        stack_last_updated=state.last_updated,
        artifacts_bucket=bucket,
        templates={
            a.filename: planfile.TemplateArtifact(key=a.key, sha256=a.sha256) for a in uploaded
        },
        parameters=dict(record),
        change_count=len(result.real),
        created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        broadening=tuple(result.broadening),
    )


def _review(
    clients: Clients,
    desc: Mapping[str, Any],
    state: changesets.StackState,
    record: Mapping[str, Mapping[str, Any]],
    deployable: list[render.RenderedTemplate],
    drifted: drift.DriftReport | None,
    plan_path: Path | None,
) -> review.Review:
    """Describe the change set and its nested ones, and build the review."""
    tree = changesets.describe_tree(clients.cloudformation, desc["ChangeSetId"])
    # DescribeChangeSet does not say whether the change set creates or updates: we know.
    tree.description.setdefault("ChangeSetType", state.change_set_type)
    return review.from_described(
        tree,
        clients.region,
        plan_file=str(plan_path or ""),
        root_before=state.parameters if state.change_set_type == "UPDATE" else {},
        root_after={k: str(v["value"]) for k, v in record.items()},
        secrets=review.secret_parameters([r.text for r in deployable]),
        drift=drifted,
    )
