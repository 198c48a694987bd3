"""The permissions boundary against the local AWS: `bootstrap` creates it, every role the stacks
create carries it, and an environment deployed before there was a boundary gets it by running
`bootstrap`, then `plan` and `execute` (README "Safety": rolling it out).

moto does not evaluate IAM policies or their conditions (tests/test_boundary.py asserts them on
the templates); what it shows here is the order and the state: the boundary policy exists before
the service role names it, and each role ends up with the boundary's ARN.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from troposphere import Ref

from cfn import config, naming, policies, render
from cfn.deploy import bootstrap as bootstrap_mod
from tests import test_deploy_e2e as e2e
from tests.test_deploy_e2e import ALL_TAGS, client, create_secrets, deploy, push_images

aws = e2e.aws
fresh_aws = e2e.fresh_aws


def _outputs(aws: Any, env: config.Environment) -> dict[str, str]:
    (stack,) = client(aws, "cloudformation").describe_stacks(StackName=naming.bootstrap_stack(env))[
        "Stacks"
    ]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _document(document: Any) -> dict[str, Any]:
    """A policy document as IAM returns it: boto3 decodes it; moto hands back the text, and for
    a role's inline policy made by CloudFormation the Python repr of the dict it was given."""
    if not isinstance(document, str):
        return document
    try:
        return json.loads(document)
    except ValueError:
        return ast.literal_eval(document)


def stack_roles(aws: Any, env: config.Environment) -> dict[str, dict[str, Any]]:
    """Every IAM role in the local account under the environment's prefix (what the stacks
    made), by name, as IAM describes it."""
    iam = client(aws, "iam")
    names = [
        r["RoleName"]
        for page in iam.get_paginator("list_roles").paginate()
        for r in page["Roles"]
        if r["RoleName"].startswith(naming.prefix(env) + "-")
    ]
    return {n: iam.get_role(RoleName=n)["Role"] for n in names}


def rendered_roles(env: config.Environment) -> set[str]:
    """The role names the environment's stack templates give (the bootstrap's excepted)."""
    return {
        role["Properties"]["RoleName"]
        for r in render.render_env(env)
        if r.filename != naming.BOOTSTRAP_TEMPLATE
        for role in json.loads(r.text)["Resources"].values()
        if role["Type"] == "AWS::IAM::Role"
    }


def test_bootstrap_makes_the_boundary_and_every_role_deployed_carries_it(aws, tmp_path):
    env = config.load(aws.config).env("dev")
    r = deploy(aws, "bootstrap", "--env", "dev")
    assert r.exit_code == 0, r.output
    arn = _outputs(aws, env)[bootstrap_mod.BOUNDARY_OUTPUT]
    assert arn == f"arn:aws:iam::{env.account_id}:policy/{naming.prefix(env)}-boundary"
    assert r.stdout.splitlines()[-1] == f"permissions boundary: {arn}"
    iam = client(aws, "iam")
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
    document = _document(document["Document"])
    assert any(s["Effect"] == "Deny" for s in document["Statement"])
    # The service role's conditions name that policy (CloudFormation resolved the Ref to it).
    role_policy = iam.get_role_policy(
        RoleName=f"cloudformation-{naming.prefix(env)}", PolicyName="environment-stacks"
    )["PolicyDocument"]
    role_policy = _document(role_policy)
    conditioned = [s for s in role_policy["Statement"] if "iam:CreateRole" in s.get("Action", [])]
    assert [s["Condition"]["StringEquals"]["iam:PermissionsBoundary"] for s in conditioned] == [arn]

    create_secrets(aws)
    push_images(aws)
    plan_file = tmp_path / "dev.json"
    assert (
        deploy(aws, "plan", "--env", "dev", *ALL_TAGS, "--plan-out", str(plan_file)).exit_code == 2
    )
    r = deploy(aws, "execute", str(plan_file), "--env", "dev", "--yes")
    assert r.exit_code == 0, r.output
    roles = stack_roles(aws, env)
    assert set(roles) == rendered_roles(env) and roles
    for name, role in roles.items():
        assert role["PermissionsBoundary"] == {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": arn,
        }, name


# -- an environment deployed before the boundary ------------------------------------------------


def _bootstrap_without_boundary(template: dict[str, Any]) -> dict[str, Any]:
    """The bootstrap template as the code made it before the boundary: no boundary policy, no
    output, the service role's statements without the boundary's conditions and Deny
    statements."""
    template["Resources"].pop("BoundaryPolicy")
    template["Outputs"].pop("BoundaryPolicyArn")
    (policy,) = template["Resources"]["ServiceRole"]["Properties"]["Policies"]
    kept = []
    for s in policy["PolicyDocument"]["Statement"]:
        if s["Effect"] == "Deny":
            continue
        s.get("Condition", {}).pop("StringEquals", None)
        if s.get("Condition") == {}:
            del s["Condition"]
        kept.append(s)
    policy["PolicyDocument"]["Statement"] = kept
    return template


def _old_code(env: config.Environment, directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make bin/deploy render, compare and bootstrap what the code made before the boundary.

    The roles are rendered with `PermissionsBoundary: {"Ref": "AWS::NoValue"}` (to AWS, no
    boundary) rather than edited afterwards: the root template names each nested template by
    the hash of its text."""
    with pytest.MonkeyPatch.context() as rendering:
        rendering.setattr(policies, "permissions_boundary", lambda _env: Ref("AWS::NoValue"))
        old = render.render_env(env)
    for i, r in enumerate(old):
        if r.filename == naming.BOOTSTRAP_TEMPLATE:
            template = _bootstrap_without_boundary(json.loads(r.text))
            old[i] = dataclasses.replace(r, text=json.dumps(template, indent=2))
            bootstrap_text = old[i].text
        path = directory / r.env / r.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(old[i].text)
    monkeypatch.setattr(render, "render_env", lambda _env: old)
    monkeypatch.setattr("cfn.build.TEMPLATES_DIR", directory)
    monkeypatch.setattr(bootstrap_mod, "to_text", lambda _template: bootstrap_text)
    # Before the boundary, plan needed the service role only.
    monkeypatch.setattr(
        bootstrap_mod,
        "service_role",
        lambda cfn, env: bootstrap_mod._output(cfn, env, bootstrap_mod.ROLE_OUTPUT, "role"),
    )


def test_an_environment_deployed_before_the_boundary_gets_it_from_bootstrap_then_plan(
    aws, tmp_path
):
    env = config.load(aws.config).env("dev")
    create_secrets(aws)
    push_images(aws)
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    with pytest.MonkeyPatch.context() as old_code:
        _old_code(env, tmp_path / "old-templates", old_code)
        assert deploy(aws, "bootstrap", "--env", "dev").exit_code == 0
        r = deploy(aws, "plan", "--env", "dev", *ALL_TAGS, "--plan-out", str(first))
        assert r.exit_code == 2, r.output
        r = deploy(aws, "execute", str(first), "--env", "dev", "--yes")
        assert r.exit_code == 0, r.output
    before = stack_roles(aws, env)
    assert set(before) == rendered_roles(env)
    assert all("PermissionsBoundary" not in role for role in before.values())

    # The new code, the old bootstrap stack: plan says what to run first, and makes nothing.
    r = deploy(aws, "plan", "--env", "dev", *ALL_TAGS, "--plan-out", str(second))
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        f"error: no permissions boundary for dev: stack {naming.bootstrap_stack(env)} has no "
        f"{bootstrap_mod.BOUNDARY_OUTPUT} output",
        "  run: bin/deploy bootstrap --env dev",
    ]
    assert not second.exists()

    r = deploy(aws, "bootstrap", "--env", "dev")
    assert r.exit_code == 0, r.output
    assert "created or updated" in r.stdout
    arn = _outputs(aws, env)[bootstrap_mod.BOUNDARY_OUTPUT]
    r = deploy(aws, "plan", "--env", "dev", *ALL_TAGS, "--plan-out", str(second))
    assert r.exit_code == 2, r.output
    assert deploy(aws, "execute", str(second), "--env", "dev", "--yes").exit_code == 0
    after = stack_roles(aws, env)
    assert set(after) == set(before)
    assert {n: r["PermissionsBoundary"]["PermissionsBoundaryArn"] for n, r in after.items()} == {
        n: arn for n in before
    }
