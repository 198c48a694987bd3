"""The permissions boundary (README "Safety"): every role the platform's stacks create carries
the environment's boundary, the boundary allows what those roles do and no more, and
CloudFormation's service role may create or change a role only with it.

moto does not evaluate IAM policies, so the policies and conditions are asserted on the rendered
templates, and the roles are found there, not listed here; the bootstrap flow and the rollout to
an environment deployed before the boundary run against the local AWS (test_boundary_rollout.py).
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from cfn import config, naming, policies, render
from cfn.deploy import bootstrap as bootstrap_mod
from cfn.rules.RoleBoundary import EXEMPTION
from cfn.stacks import deployroles
from tests import scale
from tests.conftest import resources_of
from tests.test_rules import findings_of

SUB_ARN = "arn:${AWS::Partition}"
# What AWS's managed AmazonECSTaskExecutionRolePolicy allows (on "*"): its document at
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonECSTaskExecutionRolePolicy.html
EXECUTION_POLICY_ACTIONS = (
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchGetImage",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
)
# What adds rights to a role: allowed to the service role only with the boundary.
GRANTING = {
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:PutRolePermissionsBoundary",
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def env_templates(templates: dict[str, Any], env: config.Environment) -> dict[str, Any]:
    return {k.split("/", 1)[1]: v for k, v in templates.items() if k.startswith(f"{env.name}/")}


def roles_of(templates: dict[str, Any], env: config.Environment) -> list[tuple[str, str, dict]]:
    """(template file, logical id, resource) of every IAM role in the environment's templates."""
    return [
        (file, logical_id, role)
        for file, t in sorted(env_templates(templates, env).items())
        for logical_id, role in sorted(resources_of(t, "AWS::IAM::Role").items())
    ]


def expected_boundary(env: config.Environment) -> dict[str, str]:
    name = f"{naming.prefix(env)}-boundary"
    return {"Fn::Sub": f"{SUB_ARN}:iam::${{AWS::AccountId}}:policy/{name}"}


def bootstrap_of(templates: dict[str, Any], env: config.Environment) -> dict[str, Any]:
    return templates[f"{env.name}/{naming.BOOTSTRAP_TEMPLATE}"]["Resources"]


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return as_list(document["Statement"])


def service_role_statements(templates, env) -> list[dict[str, Any]]:
    role = bootstrap_of(templates, env)["ServiceRole"]["Properties"]
    return statements(role["Policies"][0]["PolicyDocument"])


def boundary_statements(templates, env) -> list[dict[str, Any]]:
    return statements(
        bootstrap_of(templates, env)["BoundaryPolicy"]["Properties"]["PolicyDocument"]
    )


# -- every role carries it ---------------------------------------------------------------------


def test_every_role_the_stacks_create_carries_the_environments_boundary(platform, templates):
    for env in platform.environments.values():
        roles = roles_of(templates, env)
        stack_roles = [r for r in roles if r[0] != naming.BOOTSTRAP_TEMPLATE]
        # Each service's execution and task roles, and the flow logs role where there are flow
        # logs: the count keeps a role from hiding in a template this test would not read.
        assert len(stack_roles) == 2 * len(env.services) + int(env.flow_logs)
        for file, logical_id, role in stack_roles:
            assert role["Properties"].get("PermissionsBoundary") == expected_boundary(env), (
                env.name,
                file,
                logical_id,
            )
        # The one role without: the service role, made by an administrator, the reason recorded.
        (service_role,) = [r for r in roles if r[0] == naming.BOOTSTRAP_TEMPLATE]
        assert service_role[1] == "ServiceRole"
        assert "PermissionsBoundary" not in service_role[2]["Properties"]
        assert service_role[2]["Metadata"]["InsightXI"][EXEMPTION].strip()


def test_the_boundary_is_the_bootstrap_stacks_policy_and_its_output(platform, templates):
    for env in platform.environments.values():
        bootstrap = templates[f"{env.name}/{naming.BOOTSTRAP_TEMPLATE}"]
        policy = bootstrap["Resources"]["BoundaryPolicy"]
        assert policy["Type"] == "AWS::IAM::ManagedPolicy"
        name = policy["Properties"]["ManagedPolicyName"]
        assert name == policies.boundary_policy_name(env) == f"{naming.prefix(env)}-boundary"
        assert expected_boundary(env)["Fn::Sub"].endswith(f":policy/{name}")
        assert bootstrap["Outputs"]["BoundaryPolicyArn"]["Value"] == {"Ref": "BoundaryPolicy"}


def test_e9019_finds_a_role_of_the_rendered_templates_without_its_boundary(platform, templates):
    env = next(iter(platform.environments.values()))
    file, logical_id, _ = next(
        r for r in roles_of(templates, env) if r[0] != naming.BOOTSTRAP_TEMPLATE
    )
    template = json.loads(json.dumps(env_templates(templates, env)[file]))
    assert findings_of(json.dumps(template), "E9019") == []
    del template["Resources"][logical_id]["Properties"]["PermissionsBoundary"]
    (finding,) = findings_of(json.dumps(template), "E9019")
    assert finding.message == f"Role {logical_id} has no PermissionsBoundary"


# -- the service role creates and changes roles only with it ------------------------------------


def test_the_service_role_grants_rights_to_a_role_only_with_the_boundary(platform, templates):
    for env in platform.environments.values():
        found = service_role_statements(templates, env)
        allowed = [s for s in found if s["Effect"] == "Allow"]
        granting = [s for s in allowed if GRANTING & set(as_list(s["Action"]))]
        # Every granting action is allowed, and only under the boundary condition.
        assert set().union(*(set(as_list(s["Action"])) for s in granting)) >= GRANTING
        for s in granting:
            assert s["Condition"]["StringEquals"] == {
                "iam:PermissionsBoundary": {"Ref": "BoundaryPolicy"}
            }, s["Sid"]
            assert s["Resource"] == [
                {"Fn::Sub": f"{SUB_ARN}:iam::${{AWS::AccountId}}:role/{naming.prefix(env)}-*"}
            ]
        # Removing a boundary is never allowed, and denied everywhere.
        assert not any("iam:DeleteRolePermissionsBoundary" in as_list(s["Action"]) for s in allowed)
        (removal,) = [
            s
            for s in found
            if s["Effect"] == "Deny" and s["Action"] == ["iam:DeleteRolePermissionsBoundary"]
        ]
        assert removal["Resource"] == ["*"] and "Condition" not in removal
        # No IAM action that writes a policy document is allowed at all.
        iam = {a for s in allowed for a in as_list(s["Action"]) if a.startswith("iam:")}
        assert not iam & {
            "iam:CreatePolicy",
            "iam:CreatePolicyVersion",
            "iam:SetDefaultPolicyVersion",
            "iam:DeleteRolePermissionsBoundary",
        }


def test_cloudformation_creates_the_boundary_before_the_conditions_need_it(platform, templates):
    """The service role names the boundary by `Ref`: CloudFormation orders the policy first,
    in a new bootstrap stack and in an update of an existing one alike."""
    for env in platform.environments.values():
        role = bootstrap_of(templates, env)["ServiceRole"]
        assert '{"Ref": "BoundaryPolicy"}' in json.dumps(role)
        assert "DependsOn" not in bootstrap_of(templates, env)["BoundaryPolicy"]


# -- what the boundary allows and denies -------------------------------------------------------


def test_the_boundary_and_the_service_role_deny_the_same_escapes(platform, templates):
    for env in platform.environments.values():
        own = expected_boundary(env)
        in_boundary = [s for s in boundary_statements(templates, env) if s["Effect"] == "Deny"]
        in_role = [s for s in service_role_statements(templates, env) if s["Effect"] == "Deny"]
        # The same statements; the role names the boundary by Ref, the boundary by its ARN.
        assert json.dumps(in_role).replace('{"Ref": "BoundaryPolicy"}', json.dumps(own)) == (
            json.dumps(in_boundary)
        )
        denied = {
            (a, json.dumps(r)) for s in in_boundary for a in s["Action"] for r in s["Resource"]
        }
        deployer = {
            "Fn::Sub": f"{SUB_ARN}:iam::${{AWS::AccountId}}:policy/"
            + deployroles.deployer_policy_name(env)
        }
        service_role = {
            "Fn::Sub": f"{SUB_ARN}:iam::${{AWS::AccountId}}:role/"
            + deployroles.service_role_name(env)
        }
        for policy in (own, deployer):
            for action in ("iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion"):
                assert (action, json.dumps(policy)) in denied
        for action in ("iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy"):
            assert (action, json.dumps(service_role)) in denied
        assert ("iam:DeleteRolePermissionsBoundary", '"*"') in denied
        (other,) = [s for s in in_boundary if s["Sid"] == "NoOtherBoundary"]
        assert other["Condition"] == {"StringNotEquals": {"iam:PermissionsBoundary": own}}


def _allows(boundary: list[dict[str, Any]], action: str, resource: str) -> bool:
    return any(
        s["Effect"] == "Allow"
        and action in as_list(s["Action"])
        and any(
            r == "*"
            or fnmatch.fnmatchcase(resource, r.get("Fn::Sub", r) if isinstance(r, dict) else r)
            for r in as_list(s["Resource"])
        )
        for s in boundary
    )


def _arn(template: dict[str, Any], value: Any) -> str:
    """A policy's resource as text: `Fn::Sub` as written; `GetAtt` of a log group as its ARN."""
    if isinstance(value, str):
        return value
    if "Fn::Sub" in value:
        return value["Fn::Sub"]
    logical_id, attribute = value["Fn::GetAtt"]
    assert attribute == "Arn"
    name = template["Resources"][logical_id]["Properties"]["LogGroupName"]
    return f"{SUB_ARN}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{name}:*"


def _uses(env: config.Environment, file: str, template: dict, role: dict) -> list[tuple[str, str]]:
    """(action, resource) of everything the role is granted, the managed policy included (as
    the role uses it: its service's repository and log group)."""
    props = role["Properties"]
    used = [
        (action, _arn(template, resource))
        for policy in props.get("Policies", [])
        for s in statements(policy["PolicyDocument"])
        for action in as_list(s["Action"])
        for resource in as_list(s["Resource"])
    ]
    if props.get("ManagedPolicyArns"):
        (service,) = [
            s for s in env.services if naming.template_file(naming.service_stack_id(s)) == file
        ]
        here = "${AWS::Region}:${AWS::AccountId}"
        repository = f"{SUB_ARN}:ecr:{here}:repository/{service.repository}"
        stream = f"{SUB_ARN}:logs:{here}:log-group:{naming.log_group(env, service)}:log-stream:x"
        used += [
            (a, "*" if a == "ecr:GetAuthorizationToken" else repository)
            for a in EXECUTION_POLICY_ACTIONS
            if a.startswith("ecr:")
        ]
        used += [(a, stream) for a in EXECUTION_POLICY_ACTIONS if a.startswith("logs:")]
    return used


def _check_covers(templates: dict[str, Any], env: config.Environment) -> int:
    boundary = boundary_statements(templates, env)
    checked = 0
    for file, logical_id, role in roles_of(templates, env):
        if file == naming.BOOTSTRAP_TEMPLATE:
            continue
        template = env_templates(templates, env)[file]
        for action, resource in _uses(env, file, template, role):
            assert _allows(boundary, action, resource), (env.name, logical_id, action, resource)
            checked += 1
    return checked


def test_the_boundary_allows_everything_the_platforms_roles_do(platform, templates):
    for env in platform.environments.values():
        assert _check_covers(templates, env) > 0


def test_the_boundary_follows_what_the_configuration_grants_a_task_role(raw):
    service = raw["services"][0]
    service["task_role_actions"] = ["s3:GetObject", "sqs:SendMessage"]
    service["task_role_resources"] = [
        "arn:aws:s3:::reports/*",
        "arn:aws:sqs:eu-west-1:123456789012:q",
    ]
    platform = config.from_dict(raw)
    env = next(iter(platform.environments.values()))
    templates = {r.path: json.loads(r.text) for r in render.render_env(env)}
    assert _check_covers(templates, env) > 0
    boundary = boundary_statements(templates, env)
    assert _allows(boundary, "s3:GetObject", "arn:aws:s3:::reports/x")
    # Nothing else: another bucket, another action.
    assert not _allows(boundary, "s3:GetObject", "arn:aws:s3:::other/x")
    assert not _allows(boundary, "s3:PutObject", "arn:aws:s3:::reports/x")


@pytest.mark.parametrize(
    "action, resource",
    [
        ("iam:CreateRole", "arn:aws:iam::111111111111:role/anything"),
        ("iam:PassRole", "*"),
        ("s3:GetObject", "arn:aws:s3:::any-bucket/key"),
        ("secretsmanager:GetSecretValue", f"{SUB_ARN}:secretsmanager:x:y:secret:other/prod/k"),
        ("logs:PutLogEvents", f"{SUB_ARN}:logs:x:y:log-group:/ecs/another-app/x:log-stream:s"),
    ],
)
def test_the_boundary_allows_nothing_beyond_the_platform(platform, templates, action, resource):
    for env in platform.environments.values():
        assert not _allows(boundary_statements(templates, env), action, resource)


def test_the_bootstrap_template_fits_inline_with_a_hundred_services(raw):
    """`bootstrap` sends its template inline (its stack makes the bucket S3 uploads need), and
    the deployer policy and the boundary name every service's repository."""
    platform = config.from_dict(scale.with_services(raw, 100))
    for env in platform.environments.values():
        body = bootstrap_mod.template_body(env)
        assert len(body.encode()) < bootstrap_mod.INLINE_LIMIT, env.name
        rendered = render.render_env(env)
        (committed,) = [r for r in rendered if r.filename == naming.BOOTSTRAP_TEMPLATE]
        assert json.loads(body) == json.loads(committed.text)
