"""`bootstrap`: create or update the environment's bootstrap stack: the artifacts bucket, the
CloudFormation service role every change set names (`RoleARN`), the minimal deployer policy,
the permissions boundary every role of the platform's stacks carries.

It goes through a change set like everything else, executed at once (nothing a service depends
on at run time); a second run finds no changes. It is the one command that needs IAM rights
beyond the deployer policy: it creates that policy and the role.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cfn import naming, policies
from cfn.config import Environment
from cfn.deploy import changesets, events
from cfn.deploy.errors import DeployError
from cfn.render import to_text
from cfn.stacks import bootstrap as bootstrap_template

BUCKET_OUTPUT = "ArtifactsBucketName"
ROLE_OUTPUT = "ServiceRoleArn"
BOUNDARY_OUTPUT = "BoundaryPolicyArn"


@dataclass(frozen=True)
class BootstrapResult:
    stack: str
    bucket: str
    changed: bool
    status: str
    boundary: str = ""  # the permissions boundary's ARN


def run(
    cfn: Any,
    env: Environment,
    *,
    on_event: Callable[[events.Event], None] = lambda e: None,
    sleep: Callable[[float], None] = time.sleep,
) -> BootstrapResult:
    stack = naming.bootstrap_stack(env)
    state = changesets.stack_state(cfn, stack)
    changesets.check_can_change(state, cfn.meta.region_name)
    body = template_body(env)
    name = f"{stack}-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}"
    try:
        created = changesets.create_change_set(
            cfn,
            stack=stack,
            name=name,
            change_set_type=state.change_set_type,
            template_body=body,
            tags=naming.tag_dict(env),
            description="artifacts bucket, CloudFormation role, deployer policy, boundary",
            # The service role and the deployer policy have names (one per environment).
            capabilities=("CAPABILITY_NAMED_IAM",),
            sleep=sleep,
        )
    except changesets.NoChanges:
        state = changesets.stack_state(cfn, stack)
        return BootstrapResult(
            stack,
            _bucket(state),
            changed=False,
            status=state.status or "",
            boundary=state.outputs.get(BOUNDARY_OUTPUT, ""),
        )
    token = events.token_for(created["ChangeSetId"])
    op = events.Operation.before_execute(cfn, created["StackId"], token)
    cfn.execute_change_set(ChangeSetName=created["ChangeSetId"], ClientRequestToken=token)
    status = events.follow(op, on_event=on_event, sleep=sleep)
    state = changesets.stack_state(cfn, stack)
    return BootstrapResult(
        stack, _bucket(state), True, status, state.outputs.get(BOUNDARY_OUTPUT, "")
    )


# CloudFormation's limit on a template sent inline; the bootstrap stack cannot go through S3:
# it makes the bucket. https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
INLINE_LIMIT = 51_200


def template_body(env: Environment) -> str:
    """The bootstrap template as sent: the committed text without its indentation (about half
    the size), so that the policies, which grow with the services, stay within INLINE_LIMIT."""
    text = to_text(bootstrap_template.build(env))
    return json.dumps(json.loads(text), separators=(",", ":"))


def _bucket(state: changesets.StackState) -> str:
    return state.outputs.get(BUCKET_OUTPUT, "")


def artifacts_bucket(cfn: Any, env: Environment) -> str:
    """The bucket `bootstrap` made; a clear error when it has not run."""
    return _output(cfn, env, BUCKET_OUTPUT, "artifacts bucket")


def service_role(cfn: Any, env: Environment) -> str:
    """The CloudFormation service role `bootstrap` made; a clear error when it has not run, or
    ran before there was a role, or before there was a permissions boundary: the templates'
    roles name the boundary, and a role made by the old service role would have none."""
    state = changesets.stack_state(cfn, naming.bootstrap_stack(env))
    role = _value(state, env, ROLE_OUTPUT, "CloudFormation service role")
    boundary = _value(state, env, BOUNDARY_OUTPUT, "permissions boundary")
    expected = f":policy/{policies.boundary_policy_name(env)}"
    if not boundary.endswith(expected):
        raise DeployError(
            f"the permissions boundary of {env.name} is {boundary}, not the policy the "
            f"templates' roles name (...{expected})",
            f"run: bin/deploy bootstrap --env {env.name}",
        )
    return role


def _output(cfn: Any, env: Environment, output: str, what: str) -> str:
    return _value(changesets.stack_state(cfn, naming.bootstrap_stack(env)), env, output, what)


def _value(state: changesets.StackState, env: Environment, output: str, what: str) -> str:
    value = state.outputs.get(output, "")
    if not state.exists or not value:
        raise DeployError(
            f"no {what} for {env.name}: stack {naming.bootstrap_stack(env)} "
            f"{'has no ' + output + ' output' if state.exists else 'does not exist'}",
            f"run: bin/deploy bootstrap --env {env.name}",
        )
    return value
