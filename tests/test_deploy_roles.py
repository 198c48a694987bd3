"""The bootstrap stack's CloudFormation service role and deployer policy (issue 14): no action
wildcards, `Resource: "*"` only where the action has no resource-level permissions, and every
other resource scoped to the environment's names (or, where AWS generates the id, to the
account and region), per environment of the configuration."""

from __future__ import annotations

import copy
import fnmatch
import json
import re

import pytest

from cfn import config, naming, render
from cfn.rules.IamWildcardResource import supports_resources
from cfn.stacks import bootstrap_boundary, deployroles

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


# -- passing a role: only to the services the platform's roles are for ---------------------------

# Which AWS service a resource property passes its role to (`iam:PassedToService`), as AWS's
# CloudFormation and service docs give it: facts about AWS, not the platform's list. A property
# path is its names from the resource's Properties, list indices and intrinsic functions left
# out. A role passed through a property missing here is a finding: add the property, and the
# test then asks for its service in the service role's list and in the role's trust.
PASSED_TO = {
    ("AWS::ECS::TaskDefinition", "TaskRoleArn"): "ecs-tasks.amazonaws.com",
    ("AWS::ECS::TaskDefinition", "ExecutionRoleArn"): "ecs-tasks.amazonaws.com",
    ("AWS::EC2::FlowLog", "DeliverLogsPermissionArn"): "vpc-flow-logs.amazonaws.com",
    ("AWS::ECS::Service", "Role"): "ecs.amazonaws.com",
    ("AWS::ApplicationAutoScaling::ScalableTarget", "RoleARN"): (
        "application-autoscaling.amazonaws.com"
    ),
    ("AWS::Lambda::Function", "Role"): "lambda.amazonaws.com",
    ("AWS::Events::Rule", "Targets.RoleArn"): "events.amazonaws.com",
    ("AWS::CodeBuild::Project", "ServiceRole"): "codebuild.amazonaws.com",
    ("AWS::StepFunctions::StateMachine", "RoleArn"): "states.amazonaws.com",
}
# Where a role's ARN or name appears without being passed: policy documents, the IAM resources
# that manage roles, a nested stack's parameters (followed to where the nested stack uses them).
NOT_PASSING_TYPES = {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}
POLICY_KEYS = {"PolicyDocument", "AssumeRolePolicyDocument", "KeyPolicy"}
_SUB_NAME = re.compile(r"\$\{([A-Za-z0-9]+)(\.Arn)?\}")


def _nested_stack_of(ts, file):
    """(root file, resource) of the root's nested stack whose template is `file`."""
    root = ts[naming.ROOT_TEMPLATE]
    for logical_id, r in root.get("Resources", {}).items():
        if r["Type"] == "AWS::CloudFormation::Stack" and naming.template_file(logical_id) == file:
            return naming.ROOT_TEMPLATE, r
    return None


def _roles_in(ts, file, value):
    """The roles `value` (in the template `file` of the environment's templates `ts`) names:
    (file, logical id) of an `AWS::IAM::Role`, reached by Ref, GetAtt Arn, Sub, a parameter a
    nested stack is given, a nested stack's output or an import; a literal role ARN as text."""
    resources = ts[file].get("Resources", {})

    def named(name):
        if resources.get(name, {}).get("Type") == "AWS::IAM::Role":
            return [(file, name)]
        if name in ts[file].get("Parameters", {}):
            parent = _nested_stack_of(ts, file)
            given = parent[1]["Properties"].get("Parameters", {}) if parent else {}
            return _roles_in(ts, parent[0], given[name]) if name in given else []
        return []

    if isinstance(value, str):
        return [value] if ":role/" in value else []
    if isinstance(value, list):
        return [r for v in value for r in _roles_in(ts, file, v)]
    if not isinstance(value, dict):
        return []
    if set(value) == {"Ref"}:
        return named(value["Ref"])
    if set(value) == {"Fn::GetAtt"}:
        target = value["Fn::GetAtt"]
        name, attribute = target if isinstance(target, list) else target.split(".", 1)
        if attribute == "Arn":
            return named(name)
        if attribute.startswith("Outputs.") and resources.get(name, {}).get("Type") == (
            "AWS::CloudFormation::Stack"
        ):
            child = naming.template_file(name)
            output = ts[child].get("Outputs", {}).get(attribute.split(".", 1)[1], {})
            return _roles_in(ts, child, output.get("Value"))
        return []
    if set(value) == {"Fn::ImportValue"}:
        return [
            r
            for f, t in ts.items()
            for o in t.get("Outputs", {}).values()
            if o.get("Export", {}).get("Name") == value["Fn::ImportValue"]
            for r in _roles_in(ts, f, o["Value"])
        ]
    if set(value) == {"Fn::Sub"}:
        text, variables = (
            value["Fn::Sub"] if isinstance(value["Fn::Sub"], list) else [value["Fn::Sub"], {}]
        )
        found = [r for name, _ in _SUB_NAME.findall(text) for r in named(name)]
        return found + _roles_in(ts, file, list(variables.values()))
    return _roles_in(ts, file, list(value.values()))


def _passes(ts, file, value, path=()):
    """(property path, role) of every role a resource's properties (`value`) pass: property
    names are followed down, intrinsic functions resolved, policy documents left out."""
    if isinstance(value, list):
        for item in value:
            yield from _passes(ts, file, item, path)
    elif isinstance(value, dict) and not any(k == "Ref" or k.startswith("Fn::") for k in value):
        for key, item in value.items():
            if key not in POLICY_KEYS:
                yield from _passes(ts, file, item, (*path, key))
    else:
        for role in _roles_in(ts, file, value):
            yield ".".join(path), role


def passed_roles(ts):
    """(where, resource type, property path, role) of every role the environment's templates
    `ts` (file -> template) pass to a resource."""
    found = []
    for file, t in sorted(ts.items()):
        for logical_id, r in sorted(t.get("Resources", {}).items()):
            if r["Type"] in NOT_PASSING_TYPES or r["Type"] == "AWS::CloudFormation::Stack":
                continue
            for prop, role in _passes(ts, file, r.get("Properties", {})):
                found.append((f"{file}/{logical_id}", r["Type"], prop, role))
    return found


def _trusted_services(role):
    trust = role["Properties"]["AssumeRolePolicyDocument"]
    return {
        service
        for s in trust["Statement"]
        if s["Effect"] == "Allow" and isinstance(s.get("Principal"), dict)
        for service in _as_list(s["Principal"].get("Service", []))
    }


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _passed_to_listed(statements):
    """The services the statements let the holder pass a role to (`iam:PassedToService`)."""
    return {
        service
        for s in statements
        if s["Effect"] == "Allow" and "iam:PassRole" in _actions(s)
        for service in _as_list(
            s.get("Condition", {}).get("StringEquals", {}).get("iam:PassedToService", [])
        )
    }


def pass_problems(ts, statements):
    """What is wrong with how the templates `ts` pass roles, given the service role's policy
    `statements`: each pass must go through a known property, to a service the role trusts and
    the service role may pass the role to; the services listed must be exactly those used."""
    problems = []
    used = set()
    for where, type_, prop, role in passed_roles(ts):
        service = PASSED_TO.get((type_, prop))
        if isinstance(role, str):
            problems.append(f"{where}: {prop} names a role by its ARN text {role!r}")
            continue
        if service is None:
            problems.append(f"{where}: {type_}.{prop} passes {role[1]} to a service not known")
            continue
        used.add(service)
        resource = ts[role[0]]["Resources"][role[1]]
        if service not in _trusted_services(resource):
            problems.append(f"{where}: {role[1]} passed to {service}, which it does not trust")
        name = resource["Properties"].get("RoleName")
        if not isinstance(name, str):
            problems.append(f"{where}: {role[1]} has no RoleName, the test cannot tell its ARN")
            continue
        arn = f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{name}"
        if not _decides(statements, "iam:PassRole", arn, {"iam:PassedToService": [service]}):
            problems.append(f"{where}: the service role may not pass {name} to {service}")
    if used != _passed_to_listed(statements):
        problems.append(f"passed to {sorted(used)}, listed {sorted(_passed_to_listed(statements))}")
    return problems


def _env_templates(templates, env):
    """The environment's templates, file -> template, as a copy free to edit."""
    prefix = f"{env.name}/"
    return copy.deepcopy(
        {k[len(prefix) :]: v for k, v in templates.items() if k.startswith(prefix)}
    )


def _service_role_statements(ts):
    role = ts[naming.BOOTSTRAP_TEMPLATE]["Resources"]["ServiceRole"]["Properties"]
    return role["Policies"][0]["PolicyDocument"]["Statement"]


def _policy_statements(value):
    """Every statement of every policy document inside `value`."""
    if isinstance(value, list):
        return [s for v in value for s in _policy_statements(v)]
    if not isinstance(value, dict):
        return []
    if "Statement" in value:
        return _as_list(value["Statement"])
    return [s for v in value.values() for s in _policy_statements(v)]


def _may_pass_roles(statement):
    """Whether an Allow statement covers iam:PassRole (by Action, wildcard or NotAction)."""
    if statement["Effect"] != "Allow":
        return False
    if "NotAction" in statement:
        return not any(fnmatch.fnmatchcase("iam:PassRole", a) for a in statement["NotAction"])
    return any(fnmatch.fnmatchcase("iam:PassRole", a) for a in _actions(statement))


def test_the_bootstrap_stack_lets_a_role_be_passed_only_to_the_services_it_names(
    platform, templates
):
    for env in platform.environments.values():
        ts = _env_templates(templates, env)
        passing = [
            s for s in _policy_statements(ts[naming.BOOTSTRAP_TEMPLATE]) if _may_pass_roles(s)
        ]
        # The deployer's (the service role, to CloudFormation) and the service role's.
        assert sorted(s["Sid"] for s in passing) == [
            "PassRolesOnlyToThePlatformsServices",
            "PassTheServiceRoleToCloudFormation",
        ]
        for s in passing:
            assert list(s["Condition"]) == ["StringEquals"], s["Sid"]
            assert list(s["Condition"]["StringEquals"]) == ["iam:PassedToService"], s["Sid"]
        statements = _service_role_statements(ts)
        listed = sorted(_passed_to_listed(statements))
        assert listed == bootstrap_boundary.passed_to_services(env)
        role = f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{naming.prefix(env)}-x"
        for service in listed:
            assert _decides(statements, "iam:PassRole", role, {"iam:PassedToService": [service]})
        # Not without the key, not to a service the platform does not pass roles to, not a role
        # outside the environment.
        assert not _decides(statements, "iam:PassRole", role)
        for other in ("lambda.amazonaws.com", "ec2.amazonaws.com", "codebuild.amazonaws.com"):
            assert other not in listed
            assert not _decides(statements, "iam:PassRole", role, {"iam:PassedToService": [other]})
        outside = role.replace(naming.prefix(env), "another-app")
        context = {"iam:PassedToService": listed[:1]}
        assert not _decides(statements, "iam:PassRole", outside, context)


def test_every_role_a_template_passes_goes_to_a_listed_service_that_it_trusts(platform, templates):
    for env in platform.environments.values():
        ts = _env_templates(templates, env)
        # Each service's task definition passes its task and execution role, the flow log (with
        # flow logs) its role: the count keeps a pass from hiding where the walk does not look.
        assert len(passed_roles(ts)) == 2 * len(env.services) + int(env.flow_logs)
        assert pass_problems(ts, _service_role_statements(ts)) == [], env.name


def test_the_list_follows_the_environments_flow_logs(raw):
    """Flow logs on and off, in each environment that the configuration lets have both: the
    list gains and loses the flow logs role's service with the role."""
    lists = {}
    for name in raw["environments"]:
        for on in (True, False):
            changed = copy.deepcopy(raw)
            changed["environments"][name]["flow_logs"] = on
            try:
                env = config.from_dict(changed).env(name)
            except config.ConfigError:  # a protected environment keeps its flow logs
                continue
            ts = {r.filename: json.loads(r.text) for r in render.render_env(env)}
            assert pass_problems(ts, _service_role_statements(ts)) == [], (name, on)
            listed = _passed_to_listed(_service_role_statements(ts))
            lists[name, on] = listed, ts
    both = [
        name for name in raw["environments"] if (name, True) in lists and (name, False) in lists
    ]
    assert both, lists.keys()
    for name in both:
        (with_logs, ts), (without, _) = lists[name, True], lists[name, False]
        flow_role = ts[naming.template_file(naming.CLUSTER)]["Resources"]["FlowLogsRole"]
        gained = with_logs - without
        assert gained and gained == _trusted_services(flow_role) - without, name


def _add(ts, file, logical_id, type_, properties):
    ts[file]["Resources"][logical_id] = {"Type": type_, "Properties": properties}


def test_a_role_passed_to_a_new_service_is_found_until_the_list_and_its_trust_have_it(
    platform, templates
):
    env = next(iter(platform.environments.values()))
    ts = _env_templates(templates, env)
    file = naming.template_file(naming.service_stack_id(env.services[0]))
    lambda_role = {"Role": {"Fn::GetAtt": ["TaskRole", "Arn"]}, "Handler": "x", "Runtime": "y"}
    _add(ts, file, "Function", "AWS::Lambda::Function", lambda_role)
    statements = _service_role_statements(ts)
    name = ts[file]["Resources"]["TaskRole"]["Properties"]["RoleName"]
    assert pass_problems(ts, statements) == [
        f"{file}/Function: TaskRole passed to lambda.amazonaws.com, which it does not trust",
        f"{file}/Function: the service role may not pass {name} to lambda.amazonaws.com",
        f"passed to {sorted({*_passed_to_listed(statements), 'lambda.amazonaws.com'})}, "
        f"listed {sorted(_passed_to_listed(statements))}",
    ]
    # Extended where the platform's code would extend them: the role's trust, the list.
    trust = ts[file]["Resources"]["TaskRole"]["Properties"]["AssumeRolePolicyDocument"]
    trust["Statement"][0]["Principal"]["Service"].append("lambda.amazonaws.com")
    (passing,) = [s for s in statements if s.get("Sid") == "PassRolesOnlyToThePlatformsServices"]
    listed = passing["Condition"]["StringEquals"]
    listed["iam:PassedToService"] = [
        *_as_list(listed["iam:PassedToService"]),
        "lambda.amazonaws.com",
    ]
    assert pass_problems(ts, statements) == []


def test_a_role_passed_through_an_unknown_property_or_by_its_arn_text_is_found(platform, templates):
    env = next(iter(platform.environments.values()))
    ts = _env_templates(templates, env)
    file = naming.template_file(naming.service_stack_id(env.services[-1]))
    nested = {"Settings": [{"Runner": {"Fn::If": ["C", {"Ref": "ExecutionRole"}, ""]}}]}
    _add(ts, file, "Thing", "AWS::Example::Thing", nested)
    literal = f"arn:aws:iam::111111111111:role/{naming.prefix(env)}-x"
    _add(ts, file, "Other", "AWS::Lambda::Function", {"Role": literal})
    assert pass_problems(ts, _service_role_statements(ts)) == [
        f"{file}/Other: Role names a role by its ARN text {literal!r}",
        f"{file}/Thing: AWS::Example::Thing.Settings.Runner passes ExecutionRole to a service "
        "not known",
    ]


def test_a_role_given_as_a_nested_stacks_parameter_or_an_import_is_followed(platform, templates):
    env = next(iter(platform.environments.values()))
    ts = _env_templates(templates, env)
    first, last = (naming.service_stack_id(s) for s in (env.services[0], env.services[-1]))
    source, user = naming.template_file(first), naming.template_file(last)
    # The first service's stack outputs its task role; the root gives it to the last one's.
    ts[source]["Outputs"]["TaskRoleArn"] = {
        "Value": {"Fn::GetAtt": ["TaskRole", "Arn"]},
        "Export": {"Name": "shared-task-role"},
    }
    ts[user]["Parameters"]["SharedRole"] = {"Type": "String"}
    root = ts[naming.ROOT_TEMPLATE]["Resources"]
    root[last]["Properties"]["Parameters"]["SharedRole"] = {
        "Fn::GetAtt": [first, "Outputs.TaskRoleArn"]
    }
    _add(ts, user, "ByParameter", "AWS::Lambda::Function", {"Role": {"Ref": "SharedRole"}})
    _add(ts, user, "BySub", "AWS::Lambda::Function", {"Role": {"Fn::Sub": "${SharedRole}"}})
    _add(
        ts,
        user,
        "ByImport",
        "AWS::Lambda::Function",
        {"Role": {"Fn::ImportValue": "shared-task-role"}},
    )
    found = {where: role for where, _, _, role in passed_roles(ts) if "/By" in where}
    assert found == {
        f"{user}/{k}": (source, "TaskRole") for k in ("ByImport", "ByParameter", "BySub")
    }
