"""The bootstrap stack's CloudFormation service role and deployer policy (issue 14): no action
wildcards, `Resource: "*"` only where the action has no resource-level permissions, and every
other resource scoped to the environment's names (or, where AWS generates the id, to the
account and region), per environment of the configuration."""

from __future__ import annotations

import fnmatch

import pytest

from cfn import naming
from cfn.rules.IamWildcardResource import supports_resources
from cfn.stacks import deployroles

# Resources whose ARNs hold only ids AWS generates: scoped to the account and region, or (Route
# 53, service-linked roles) to the kind of resource.
GENERATED_IDS = (
    "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:*",
    "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*",
    "arn:${AWS::Partition}:acm:${AWS::Region}:${AWS::AccountId}:certificate/*",
    "arn:${AWS::Partition}:servicediscovery:${AWS::Region}:${AWS::AccountId}:*",
    "arn:${AWS::Partition}:application-autoscaling:${AWS::Region}:${AWS::AccountId}:"
    "scalable-target/*",
    "arn:${AWS::Partition}:route53:::hostedzone/*",
    "arn:${AWS::Partition}:route53:::change/*",
    "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/*",
)


def _bootstrap(templates, env_name):
    return templates[f"{env_name}/{naming.BOOTSTRAP_TEMPLATE}"]["Resources"]


def _statements(document):
    return document["Statement"]


def _actions(statement):
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


@pytest.fixture(params=["service role", "deployer policy", "permissions boundary"])
def policy(request, platform, templates):
    """(environment, statements) of each policy in each environment's bootstrap template."""
    out = []
    for env in platform.environments.values():
        resources = _bootstrap(templates, env.name)
        if request.param == "service role":
            doc = resources["ServiceRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        elif request.param == "deployer policy":
            doc = resources["DeployerPolicy"]["Properties"]["PolicyDocument"]
        else:
            doc = resources["BoundaryPolicy"]["Properties"]["PolicyDocument"]
        out.append((env, _statements(doc)))
    return out


# The Deny statements that keep the permissions boundary in force (tests/test_boundary.py).
GUARDS = {
    "NoBoundaryOrDeployerPolicyEdit",
    "NoServiceRoleEdit",
    "NoBoundaryRemoval",
    "NoOtherBoundary",
    "NotTheBootstrapStack",  # the deployer policy: the bootstrap stack stays an admin's
    "NoImports",  # the deployer policy: no change set adopts an existing resource
}


def test_no_action_wildcards(policy):
    for _env, statements in policy:
        for s in statements:
            assert s["Effect"] == "Allow" or s["Sid"] in GUARDS, s["Sid"]
            for action in _actions(s):
                assert "*" not in action, (s["Sid"], action)


def test_resource_star_only_on_actions_without_resource_level_permissions(policy):
    stars = 0
    for _env, statements in policy:
        for s in statements:
            if "*" in s["Resource"] and s["Effect"] == "Allow":
                stars += 1
                assert s["Resource"] == ["*"]
                assert [a for a in _actions(s) if supports_resources(a) is not False] == []
    assert stars  # the Describe calls are there, and only there


def test_every_other_resource_is_scoped_to_the_environment(policy):
    for env, statements in policy:
        for s in statements:
            for resource in s["Resource"]:
                if resource == "*":
                    continue
                arn = resource.get("Fn::Sub", resource)
                if isinstance(arn, dict):  # GetAtt of the service role, Ref of the boundary
                    assert arn in (
                        {"Fn::GetAtt": ["ServiceRole", "Arn"]},
                        {"Ref": "BoundaryPolicy"},
                    )
                    continue
                scoped = (
                    naming.prefix(env) in arn
                    or f":secret:{env.project}/{env.name}/" in arn
                    or any(arn.endswith(f":repository/{s.repository}") for s in env.services)
                    or (
                        bool(env.hosted_zone_id)
                        and arn.endswith(f"hostedzone/{env.hosted_zone_id}")
                    )
                )
                assert scoped or arn in GENERATED_IDS, (env.name, s["Sid"], arn)


def test_the_service_role_is_for_cloudformation_of_this_account_only(platform, templates):
    for env in platform.environments.values():
        role = _bootstrap(templates, env.name)["ServiceRole"]["Properties"]
        assert role["RoleName"] == deployroles.service_role_name(env)
        # Not under the prefix the role may manage: it cannot edit its own policy.
        assert not role["RoleName"].startswith(naming.prefix(env))
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": ["cloudformation.amazonaws.com"]}
        assert trust["Condition"] == {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        }
        attach = next(
            s
            for s in role["Policies"][0]["PolicyDocument"]["Statement"]
            if "iam:AttachRolePolicy" in _actions(s)
        )
        # Only the task execution policy, only to a role with the environment's boundary.
        assert list(attach["Condition"]) == ["ArnEquals", "StringEquals"]


def test_the_deployer_may_pass_the_service_role_to_cloudformation_only(platform, templates):
    for env in platform.environments.values():
        doc = _bootstrap(templates, env.name)["DeployerPolicy"]["Properties"]["PolicyDocument"]
        passing = [s for s in doc["Statement"] if "iam:PassRole" in _actions(s)]
        assert passing == [
            {
                "Sid": "PassTheServiceRoleToCloudFormation",
                "Effect": "Allow",
                "Action": ["iam:PassRole"],
                "Resource": [{"Fn::GetAtt": ["ServiceRole", "Arn"]}],
                "Condition": {
                    "StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}
                },
            }
        ]
        writes = [a for s in doc["Statement"] for a in _actions(s) if a == "s3:PutObject"]
        (artifacts,) = [s for s in doc["Statement"] if "s3:PutObject" in _actions(s)]
        assert writes and artifacts["Resource"] == [
            {
                "Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{naming.artifacts_bucket(env)}/"
                f"{naming.artifacts_prefix(env)}/*"
            }
        ]


def _applies(condition, context):
    """Whether a statement's Condition holds for a request with these condition keys (a key
    absent from the request: no value). Only the operators these policies use are known."""
    for operator, tests in (condition or {}).items():
        for key, wanted in tests.items():
            wanted = wanted if isinstance(wanted, list) else [wanted]
            values = context.get(key, [])
            if operator == "ForAnyValue:StringLike":
                ok = any(fnmatch.fnmatchcase(v, w) for v in values for w in wanted)
            elif operator == "StringEquals":
                ok = len(values) == 1 and values[0] in wanted
            else:
                raise AssertionError(f"the test does not evaluate {operator}")
            if not ok:
                return False
    return True


def _decides(statements, action, arn, context=None):
    """IAM's answer for one action on one ARN (`${AWS::...}` left as written), for a request
    with the condition keys `context` (key -> list of values): an explicit Deny wins over any
    Allow; nothing that matches is a denial."""
    matching = [
        s
        for s in statements
        if action in _actions(s)
        and any(
            r == "*" or (isinstance(r, dict) and fnmatch.fnmatchcase(arn, r.get("Fn::Sub", "")))
            for r in s["Resource"]
        )
        and _applies(s.get("Condition"), context or {})
    ]
    return bool(matching) and all(s["Effect"] == "Allow" for s in matching)


def test_the_deployer_may_not_change_the_bootstrap_stack(platform, templates):
    """The bootstrap stack's name starts with the prefix the change-set rights cover; a
    change set a deployer made on it with the service role would also make CloudFormation use
    that role for the administrator's next `bin/deploy bootstrap` (which passes no role)."""
    for env in platform.environments.values():
        doc = _bootstrap(templates, env.name)["DeployerPolicy"]["Properties"]["PolicyDocument"]
        here = "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}"
        root = f"{here}:stack/{naming.root_stack(env)}/id"
        nested = f"{here}:stack/{naming.root_stack(env)}-NetworkStack-X/id"
        bootstrap = f"{here}:stack/{naming.bootstrap_stack(env)}/id"
        for action in ("cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet"):
            assert _decides(_statements(doc), action, root), (env.name, action)
            assert _decides(_statements(doc), action, nested), (env.name, action)
            assert not _decides(_statements(doc), action, bootstrap), (env.name, action)
        # What plan reads from it stays allowed.
        assert _decides(_statements(doc), "cloudformation:DescribeStacks", bootstrap)


def test_the_deployer_cannot_make_an_import_change_set(platform, templates):
    """An import would adopt a resource of the account (outside the environment) into its
    stacks; the Deny is AWS's documented one (any import resource type set)."""
    for env in platform.environments.values():
        doc = _bootstrap(templates, env.name)["DeployerPolicy"]["Properties"]["PolicyDocument"]
        here = "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}"
        root = f"{here}:stack/{naming.root_stack(env)}/id"
        create = "cloudformation:CreateChangeSet"
        assert _decides(_statements(doc), create, root)
        for types in (["AWS::KMS::Key"], ["AWS::EC2::SecurityGroup", "AWS::Route53::HostedZone"]):
            context = {"cloudformation:ImportResourceTypes": types}
            assert not _decides(_statements(doc), create, root, context), (env.name, types)
