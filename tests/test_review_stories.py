"""The review on realistic stories, with the response shapes of the AWS API reference driven
through botocore's Stubber (moto produces no property values, Dynamic evaluations, drift or
nested change sets): an image deploy, a new service, an IAM broadening, a security-group
widening, a replacement of the load balancer, a change made in the console.

Each story's review is compared with its golden text and Markdown in tests/golden_reviews/.
After a deliberate change of the review, regenerate them with
`REVIEW_GOLDEN_UPDATE=1 python -m pytest tests/test_review_stories.py` and read the diff.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from cfn import config, naming
from cfn.config import Environment, Platform
from cfn.deploy import changesets, drift, review

GOLDEN = Path(__file__).parent / "golden_reviews"
STORY_CONFIG = Path(__file__).parent / "fixtures" / "review-stories.toml"
UPDATE = os.environ.get("REVIEW_GOLDEN_UPDATE") == "1"
ACCOUNT = "123456789012"
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
KNOWN_AFTER_APPLY = "{{changeSet:KNOWN_AFTER_APPLY}}"
README_CONSOLE = "https://eu-west-1.console.aws.amazon.com/cloudformation/home…"


# -- the shapes of DescribeChangeSet (IncludePropertyValues=True) ------------------------------


def arn(env: Environment, kind: str, name: str) -> str:
    return f"arn:aws:cloudformation:{env.region}:{ACCOUNT}:{kind}/{name}/0a1b2c3d-{len(name):04d}"


def detail(
    path: str,
    before: Any = None,
    after: Any = None,
    *,
    recreation: str = "Never",
    evaluation: str = "Static",
    source: str = "DirectModification",
    cause: str | None = None,
    change_type: str = "Modify",
) -> dict[str, Any]:
    attribute, _, name = path.strip("/").partition("/")
    target: dict[str, Any] = {
        "Attribute": attribute,
        "Name": name.split("/")[0],
        "RequiresRecreation": recreation,
        "Path": path,
        "AttributeChangeType": change_type,
    }
    if before is not None:
        target["BeforeValue"] = before if isinstance(before, str) else json.dumps(before)
    if after is not None:
        target["AfterValue"] = after if isinstance(after, str) else json.dumps(after)
    d: dict[str, Any] = {"Target": target, "Evaluation": evaluation, "ChangeSource": source}
    if cause:
        d["CausingEntity"] = cause
    return d


def change(
    action: str,
    logical: str,
    rtype: str,
    *details: dict[str, Any],
    replacement: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    nested: str | None = None,
) -> dict[str, Any]:
    rc: dict[str, Any] = {
        "Action": action,
        "LogicalResourceId": logical,
        "ResourceType": rtype,
        "Scope": ["Properties"] if details else [],
        "Details": list(details),
    }
    if action != "Add":
        rc["PhysicalResourceId"] = f"{logical.lower()}-physical-id"
    if action == "Modify":
        rc["Replacement"] = replacement or "False"
    if before is not None:
        rc["BeforeContext"] = json.dumps({"Properties": before})
    if after is not None:
        rc["AfterContext"] = json.dumps({"Properties": after})
    if nested:
        rc["ChangeSetId"] = nested
    return {"Type": "Resource", "ResourceChange": rc}


def description(env: Environment, stack: str, changes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ChangeSetName": f"{stack}-20261126-120000-0123456789",
        "ChangeSetId": arn(env, "changeSet", f"{stack}-cs"),
        "StackId": arn(env, "stack", stack),
        "StackName": stack,
        "Status": "CREATE_COMPLETE",
        "ExecutionStatus": "AVAILABLE",
        "CreationTime": NOW,
        "Changes": changes,
    }


def nested_stack_change(
    env: Environment, logical: str, *details: dict[str, Any], action: str = "Modify"
) -> dict[str, Any]:
    """A nested stack's change in the root, pointing at its nested change set."""
    nested = arn(env, "changeSet", f"{naming.root_stack(env)}-{logical}-cs")
    return change(action, logical, "AWS::CloudFormation::Stack", *details, nested=nested)


def dynamic_output(parameter: str, output: str) -> dict[str, Any]:
    """How AWS reports a nested stack parameter fed by another nested stack's output: Dynamic,
    even when that output does not change."""
    return detail(
        f"/Properties/Parameters/{parameter}",
        evaluation="Dynamic",
        source="ResourceAttribute",
        cause=output,
        after=KNOWN_AFTER_APPLY,
    )


# -- a story -----------------------------------------------------------------------------------


class Story:
    """The root change set, the nested ones (by logical id), the parameters and the drift."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.root: list[dict[str, Any]] = []
        self.nested: dict[str, list[dict[str, Any]]] = {}
        self.before: dict[str, str] = {}
        self.after: dict[str, str] = {}
        self.drifts: dict[str, list[dict[str, Any]]] | None = None  # None: --no-drift

    def stack_of(self, logical: str) -> str:
        return f"{naming.root_stack(self.env)}-{logical}-X"

    def stub(self, cfn: Any) -> str:
        root = description(self.env, naming.root_stack(self.env), self.root)
        calls = [(root["ChangeSetId"], root)]
        # In the order the root lists them, as describe_tree asks for them.
        for item in self.root:
            rc = item["ResourceChange"]
            if "ChangeSetId" not in rc:
                continue
            logical = rc["LogicalResourceId"]
            nested = description(self.env, self.stack_of(logical), self.nested.get(logical, []))
            nested["ChangeSetId"] = rc["ChangeSetId"]
            nested["ParentChangeSetId"] = root["ChangeSetId"]
            calls.append((nested["ChangeSetId"], nested))
        for cs_id, body in calls:
            cfn.stubber.add_response(
                "describe_change_set", body, {"ChangeSetName": cs_id, "IncludePropertyValues": True}
            )
        return root["ChangeSetId"]

    def stub_drift(self, cfn: Any) -> None:
        """ListStackResources, DetectStackDrift, DescribeStackDriftDetectionStatus and
        DescribeStackResourceDrifts for the root and each nested stack of the environment."""
        assert self.drifts is not None
        root_id = naming.root_stack(self.env)
        stacks = [("", root_id)] + [
            (logical, arn(self.env, "stack", self.stack_of(logical)))
            for logical in nested_ids(self.env)
        ]
        summaries = [
            {
                "LogicalResourceId": logical,
                "PhysicalResourceId": sid,
                "ResourceType": "AWS::CloudFormation::Stack",
                "ResourceStatus": "UPDATE_COMPLETE",
                "LastUpdatedTimestamp": NOW,
            }
            for logical, sid in stacks[1:]
        ]
        cfn.stubber.add_response(
            "list_stack_resources", {"StackResourceSummaries": summaries}, {"StackName": root_id}
        )
        for _, sid in stacks[1:]:
            cfn.stubber.add_response(
                "list_stack_resources", {"StackResourceSummaries": []}, {"StackName": sid}
            )
        for i, (_, sid) in enumerate(stacks):
            cfn.stubber.add_response(
                "detect_stack_drift", {"StackDriftDetectionId": f"d-{i}"}, {"StackName": sid}
            )
        for i, (logical, sid) in enumerate(stacks):
            found = self.drifts.get(logical, [])
            cfn.stubber.add_response(
                "describe_stack_drift_detection_status",
                {
                    "StackId": sid,
                    "StackDriftDetectionId": f"d-{i}",
                    "StackDriftStatus": "DRIFTED" if found else "IN_SYNC",
                    "DetectionStatus": "DETECTION_COMPLETE",
                    "DriftedStackResourceCount": len(found),
                    "Timestamp": NOW,
                },
                {"StackDriftDetectionId": f"d-{i}"},
            )
        for logical, sid in stacks:
            if self.drifts.get(logical):
                cfn.stubber.add_response(
                    "describe_stack_resource_drifts",
                    {"StackResourceDrifts": [dict(d, StackId=sid) for d in self.drifts[logical]]},
                    {"StackName": sid, "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]},
                )

    def review(self, cfn: Any) -> review.Review:
        cs_id = self.stub(cfn)
        tree = changesets.describe_tree(cfn, cs_id)
        tree.description["ChangeSetType"] = "UPDATE"
        if self.drifts is None:
            report = drift.DriftReport(False, "skipped (--no-drift)")
        else:
            self.stub_drift(cfn)
            report = drift.detect(cfn, naming.root_stack(self.env), sleep=lambda s: None)
        return review.from_described(
            tree,
            self.env.region,
            f"plans/{naming.root_stack(self.env)}.json",
            root_before=self.before,
            root_after=self.after,
            drift=report,
        )


def nested_ids(env: Environment) -> list[str]:
    return [naming.NETWORK, naming.EDGE, naming.CLUSTER] + [
        naming.service_stack_id(s) for s in env.services
    ]


def resource_drift(
    logical: str, rtype: str, *differences: tuple[str, str, str, str]
) -> dict[str, Any]:
    return {
        "LogicalResourceId": logical,
        "PhysicalResourceId": f"{logical.lower()}-physical-id",
        "ResourceType": rtype,
        "ExpectedProperties": "{}",
        "ActualProperties": "{}",
        "PropertyDifferences": [
            {"PropertyPath": p, "ExpectedValue": e, "ActualValue": a, "DifferenceType": t}
            for p, e, a, t in differences
        ],
        "StackResourceDriftStatus": "MODIFIED",
        "Timestamp": NOW,
    }


def image(env: Environment, service: Any, tag: str) -> str:
    return f"{ACCOUNT}.dkr.ecr.{env.region}.amazonaws.com/{service.repository}:{tag}"


# -- the stories -------------------------------------------------------------------------------


def unchanged_siblings(env: Environment, story: Story, skip: set[str]) -> None:
    """What AWS adds to every plan: the nested stacks fed by other stacks' outputs, Modify with
    only Dynamic evaluations, though nothing they depend on changes."""
    story.root.append(
        nested_stack_change(env, naming.CLUSTER, dynamic_output("VpcId", "Network.Outputs.VpcId"))
    )
    story.nested[naming.CLUSTER] = [
        change(
            "Modify",
            "ServiceSecurityGroup",
            "AWS::EC2::SecurityGroup",
            detail(
                "/Properties/VpcId",
                evaluation="Dynamic",
                source="ParameterReference",
                cause="VpcId",
                after=KNOWN_AFTER_APPLY,
            ),
        )
    ]
    for s in env.services:
        logical = naming.service_stack_id(s)
        if logical not in skip:
            story.root.append(
                nested_stack_change(
                    env, logical, dynamic_output("ClusterName", "Cluster.Outputs.ClusterName")
                )
            )


def image_deploy(env: Environment) -> Story:
    story = Story(env)
    service = env.services[0]
    logical, param = naming.service_stack_id(service), naming.image_tag_parameter(service)
    story.before = {param: "1a2b3c4"}
    story.after = {param: "9f8e7d6"}
    story.root.append(
        nested_stack_change(
            env,
            logical,
            detail(
                "/Properties/Parameters/ImageTag",
                "1a2b3c4",
                "9f8e7d6",
                source="ParameterReference",
                cause=param,
            ),
        )
    )
    unchanged_siblings(env, story, {logical})
    task_arn = (
        f"arn:aws:ecs:{env.region}:{ACCOUNT}:task-definition/{naming.task_family(env, service)}"
    )
    story.nested[logical] = [
        change(
            "Modify",
            "TaskDefinition",
            "AWS::ECS::TaskDefinition",
            detail(
                "/Properties/ContainerDefinitions/0/Image",
                image(env, service, "1a2b3c4"),
                image(env, service, "9f8e7d6"),
                recreation="Always",
                source="ParameterReference",
                cause="ImageTag",
            ),
            replacement="True",
        ),
        change(
            "Modify",
            "Service",
            "AWS::ECS::Service",
            detail(
                "/Properties/TaskDefinition",
                f"{task_arn}:7",
                KNOWN_AFTER_APPLY,
                evaluation="Dynamic",
                source="ResourceReference",
                cause="TaskDefinition",
            ),
        ),
    ]
    story.drifts = {}
    return story


def new_service(env: Environment) -> Story:
    """The config's last service, as if it were just added."""
    story = Story(env)
    service = env.services[-1]
    logical, param = naming.service_stack_id(service), naming.image_tag_parameter(service)
    story.after = {param: "5d6e7f8"}
    story.root.append(nested_stack_change(env, logical, action="Add"))
    low, high = min(s.port for s in env.services), max(s.port for s in env.services)
    rule = {"GroupId": "sg-0service", "IpProtocol": "tcp", "SourceSecurityGroupId": "sg-0alb"}
    story.root.append(nested_stack_change(env, naming.CLUSTER, detail("/Properties/TemplateURL")))
    story.nested[naming.CLUSTER] = [
        change(
            "Modify",
            "IngressFromLoadBalancer",
            "AWS::EC2::SecurityGroupIngress",
            detail("/Properties/ToPort", str(high - 1), str(high)),
            before=dict(rule, FromPort=low, ToPort=high - 1),
            after=dict(rule, FromPort=low, ToPort=high),
        )
    ]
    story.nested[logical] = [
        change("Add", r, t)
        for r, t in (
            ("TaskDefinition", "AWS::ECS::TaskDefinition"),
            ("Service", "AWS::ECS::Service"),
            ("TargetGroup", "AWS::ElasticLoadBalancingV2::TargetGroup"),
            ("LogGroup", "AWS::Logs::LogGroup"),
        )
    ]
    return story


def iam_broadening(env: Environment) -> Story:
    story = Story(env)
    service = env.services[0]
    logical = naming.service_stack_id(service)
    bucket = f"arn:aws:s3:::{naming.prefix(env)}-reports"

    def role(actions: list[str], resource: str) -> dict[str, Any]:
        statement = {"Effect": "Allow", "Action": actions, "Resource": resource}
        return {
            "RoleName": naming.task_role(env, service),
            "Policies": [
                {
                    "PolicyName": "app",
                    "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]},
                }
            ],
        }

    story.root.append(nested_stack_change(env, logical, detail("/Properties/TemplateURL")))
    story.nested[logical] = [
        change(
            "Modify",
            "TaskRole",
            "AWS::IAM::Role",
            detail(
                "/Properties/Policies/0/PolicyDocument/Statement/0/Action/0", "s3:GetObject", "s3:*"
            ),
            detail(
                "/Properties/Policies/0/PolicyDocument/Statement/0/Resource", f"{bucket}/*", "*"
            ),
            before=role(["s3:GetObject"], f"{bucket}/*"),
            after=role(["s3:*"], "*"),
        )
    ]
    story.drifts = {}
    return story


def sg_widening(env: Environment) -> Story:
    story = Story(env)

    def group(rules: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "GroupDescription": "load balancer",
            "VpcId": "vpc-0abc",
            "SecurityGroupIngress": rules,
        }

    office = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "203.0.113.0/24"}
    story.root.append(nested_stack_change(env, naming.EDGE, detail("/Properties/TemplateURL")))
    story.nested[naming.EDGE] = [
        change(
            "Modify",
            "LoadBalancerSecurityGroup",
            "AWS::EC2::SecurityGroup",
            detail("/Properties/SecurityGroupIngress/0/CidrIp", "203.0.113.0/24", "0.0.0.0/0"),
            detail("/Properties/SecurityGroupIngress/0/FromPort", "443", "80"),
            before=group([office]),
            after=group([dict(office, FromPort=80, CidrIp="0.0.0.0/0")]),
        )
    ]
    return story


def lb_replacement(env: Environment) -> Story:
    story = Story(env)
    story.root.append(nested_stack_change(env, naming.EDGE, detail("/Properties/TemplateURL")))
    lb_arn = f"arn:aws:elasticloadbalancing:{env.region}:{ACCOUNT}:loadbalancer/app/old/1234"
    story.nested[naming.EDGE] = [
        change(
            "Modify",
            "LoadBalancer",
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
            detail(
                "/Properties/Name",
                naming.load_balancer(env),
                f"{naming.load_balancer(env)}-v2",
                recreation="Always",
            ),
            replacement="True",
        ),
        change(
            "Modify",
            "HttpListener",
            "AWS::ElasticLoadBalancingV2::Listener",
            detail(
                "/Properties/LoadBalancerArn",
                lb_arn,
                KNOWN_AFTER_APPLY,
                recreation="Always",
                evaluation="Dynamic",
                source="ResourceReference",
                cause="LoadBalancer",
            ),
            replacement="True",
        ),
    ]
    story.drifts = {}
    return story


def console_change(env: Environment) -> Story:
    story = Story(env)
    service = env.services[0]
    logical = naming.service_stack_id(service)
    story.root.append(nested_stack_change(env, logical, detail("/Properties/TemplateURL")))
    story.nested[logical] = [
        change(
            "Modify",
            "LogGroup",
            "AWS::Logs::LogGroup",
            detail("/Properties/RetentionInDays", "30", "90"),
        )
    ]
    story.drifts = {
        logical: [
            resource_drift(
                "LogGroup", "AWS::Logs::LogGroup", ("/RetentionInDays", "30", "7", "NOT_EQUAL")
            )
        ],
        naming.CLUSTER: [
            resource_drift(
                "ServiceSecurityGroup",
                "AWS::EC2::SecurityGroup",
                (
                    "/SecurityGroupIngress/2",
                    "",
                    '{"CidrIp":"198.51.100.7/32","FromPort":22,"IpProtocol":"tcp","ToPort":22}',
                    "ADD",
                ),
            )
        ],
    }
    return story


def security_and_drift(env: Environment) -> Story:
    """The README's second example: a broadening and a console change in one plan."""
    story = console_change(env)
    broadening = iam_broadening(env)
    logical = naming.service_stack_id(env.services[0])
    story.nested[logical] += broadening.nested[logical]
    return story


STORIES: dict[str, Callable[[Environment], Story]] = {
    "security_and_drift": security_and_drift,
    "image_deploy": image_deploy,
    "new_service": new_service,
    "iam_broadening": iam_broadening,
    "sg_widening": sg_widening,
    "lb_replacement": lb_replacement,
    "console_change": console_change,
}


# -- tests -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def story_platform() -> Platform:
    """The platform of the stories: a frozen copy of the configuration (see the file's header)."""
    return config.load(STORY_CONFIG)


@pytest.fixture
def cfn(story_platform: Platform):
    env = story_platform.env("prod")
    client = boto3.client(
        "cloudformation", region_name=env.region, aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        client.stubber = stubber
        yield client
        stubber.assert_no_pending_responses()


@pytest.fixture
def prod(story_platform: Platform) -> Environment:
    return story_platform.env("prod")


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} missing: run with REVIEW_GOLDEN_UPDATE=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


@pytest.mark.parametrize("story", sorted(STORIES))
def test_story_review_matches_its_golden_text_and_markdown(story, cfn, prod):
    r = STORIES[story](prod).review(cfn)
    _golden(f"{story}.txt", review.to_text(r) + "\n")
    _golden(f"{story}.md", review.to_markdown(r))
    json.dumps(r.to_dict(), default=str)  # the --output json form serialises


def test_an_image_deploy_is_one_tag_and_a_rolling_deployment_with_no_red_flags(cfn, prod):
    r = image_deploy(prod).review(cfn)
    service = prod.services[0]
    logical = naming.service_stack_id(service)
    assert [(p.stack, p.name, p.before, p.after) for p in r.parameters] == [
        ("", naming.image_tag_parameter(service), "1a2b3c4", "9f8e7d6"),
        (logical, "ImageTag", "1a2b3c4", "9f8e7d6"),
    ]
    assert r.risky == [] and r.broadening == []
    assert {c.where: c.risk for c in r.real} == {
        logical: "routine",
        f"{logical}/TaskDefinition": "routine",
        f"{logical}/Service": "routine",
    }
    # Every sibling fed by unchanged outputs is a no-op, not a change.
    assert {c.where for c in r.no_ops} == {
        naming.CLUSTER,
        f"{naming.CLUSTER}/ServiceSecurityGroup",
        *(naming.service_stack_id(s) for s in prod.services[1:]),
    }
    assert r.counts["stacks"] == 2
    text = review.to_text(r)
    assert "RISKY" not in text and "SECURITY" not in text
    assert f"{service.repository} 1a2b3c4 → 9f8e7d6" in text
    # The same parameters for machines and for the pull request.
    param = naming.image_tag_parameter(service)
    assert r.to_dict()["parameters"][0] == {
        "stack": "",
        "name": param,
        "before": "1a2b3c4",
        "after": "9f8e7d6",
    }
    assert f"| (root) | `{param}` | 1a2b3c4 | 9f8e7d6 |" in review.to_markdown(r)
    assert r.drift is not None and r.drift.line() == (
        f"drift checked on {len(nested_ids(prod)) + 1} stack(s): none"
    )


def test_only_dynamic_evaluations_is_no_change(cfn, prod):
    story = Story(prod)
    unchanged_siblings(prod, story, set())
    r = story.review(cfn)
    assert not r.has_changes
    assert r.parameters == []
    assert len(r.no_ops) == 2 + len(prod.services)


def test_a_dynamic_evaluation_of_a_changing_output_is_a_change(cfn, prod):
    """The same Dynamic shape is real when the output it reads comes from a stack that changes."""
    story = Story(prod)
    unchanged_siblings(prod, story, set())
    story.root.append(nested_stack_change(prod, naming.NETWORK, detail("/Properties/TemplateURL")))
    story.nested[naming.NETWORK] = [
        change(
            "Modify",
            "Vpc",
            "AWS::EC2::VPC",
            detail("/Properties/CidrBlock", "10.0.0.0/16", "10.1.0.0/16", recreation="Always"),
            replacement="True",
        )
    ]
    r = story.review(cfn)
    by_id = {c.where: c for c in r.changes}
    assert by_id[naming.CLUSTER].risk == "routine"
    assert by_id[f"{naming.CLUSTER}/ServiceSecurityGroup"].risk != "no-op"
    assert by_id[f"{naming.NETWORK}/Vpc"].risk == "risky"
    # The cluster stack really changes, so what reads its outputs may change too.
    assert all(by_id[naming.service_stack_id(s)].risk == "routine" for s in prod.services)


def test_security_broadenings_are_listed_and_recorded(cfn, prod):
    r = iam_broadening(prod).review(cfn)
    role = f"{naming.service_stack_id(prod.services[0])}/TaskRole (AWS::IAM::Role)"
    assert r.broadening == [f"{role}: policy app allows s3:* on *"]
    assert "SECURITY: broadens access (1); execute asks for explicit confirmation:" in (
        review.to_text(r)
    )


def test_a_security_group_widening_names_the_cidr_and_port_range(cfn, prod):
    r = sg_widening(prod).review(cfn)
    assert r.broadening == [
        f"{naming.EDGE}/LoadBalancerSecurityGroup (AWS::EC2::SecurityGroup): ingress tcp 80-443 "
        "from 0.0.0.0/0 (open to the internet) (was ingress tcp 443 from 203.0.113.0/24)"
    ]


def test_narrowing_is_not_broadening(prod):
    c = review.Change("", "Modify", "TaskRole", "AWS::IAM::Role", "False")
    doc = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    narrow = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:x/*"}]}
    c.before_context = json.dumps(
        {"Properties": {"Policies": [{"PolicyName": "p", "PolicyDocument": doc}]}}
    )
    c.after_context = json.dumps(
        {"Properties": {"Policies": [{"PolicyName": "p", "PolicyDocument": narrow}]}}
    )
    from cfn.deploy import security

    assert security.broadenings(c) == []
    c.before_context, c.after_context = c.after_context, c.before_context
    assert security.broadenings(c) == ["policy p allows s3:* on *"]


def test_the_readme_examples_are_the_golden_reviews():
    """The README shows the image deploy and the security-and-drift reviews as they are."""
    from tests.conftest import PROJECT_ROOT

    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    for story in ("image_deploy", "security_and_drift"):
        golden = (GOLDEN / f"{story}.txt").read_text(encoding="utf-8")
        shown = re.sub(r"(?m)^Console: .*$", "Console: " + README_CONSOLE, golden)
        assert shown in readme, (
            f"README's example of {story} is not tests/golden_reviews/{story}.txt"
        )


def _with_contexts(action: str, rtype: str, before: Any, after: Any) -> review.Change:
    c = review.Change("Edge", action, "X", rtype, "False")
    c.before_context = json.dumps({"Properties": before}) if before is not None else ""
    c.after_context = json.dumps({"Properties": after})
    return c


def test_trust_public_exposure_and_dropped_denies_are_broadening():
    from cfn.deploy import security

    def trust(*services: str) -> dict[str, Any]:
        principal = {"Service": list(services)}
        statement = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
        return {"AssumeRolePolicyDocument": {"Statement": [statement]}}

    role = _with_contexts(
        "Modify",
        "AWS::IAM::Role",
        trust("ecs-tasks.amazonaws.com"),
        trust("ecs-tasks.amazonaws.com", "lambda.amazonaws.com"),
    )
    assert security.broadenings(role) == [
        "trust: can now be assumed by Service:lambda.amazonaws.com (sts:AssumeRole)"
    ]
    deny = {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}
    policy = _with_contexts(
        "Modify",
        "AWS::IAM::ManagedPolicy",
        {"PolicyDocument": {"Statement": [deny]}},
        {"PolicyDocument": {"Statement": []}},
    )
    assert security.broadenings(policy) == ["policy no longer denies s3:DeleteObject on *"]
    lb = _with_contexts(
        "Modify",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {"Scheme": "internal"},
        {"Scheme": "internet-facing"},
    )
    assert security.broadenings(lb) == ["load balancer is internet-facing"]

    def service(public: str) -> dict[str, Any]:
        return {"NetworkConfiguration": {"AwsvpcConfiguration": {"AssignPublicIp": public}}}

    ecs = _with_contexts("Modify", "AWS::ECS::Service", service("DISABLED"), service("ENABLED"))
    assert security.broadenings(ecs) == ["tasks get a public IP address (AssignPublicIp ENABLED)"]
    narrower = _with_contexts(
        "Modify",
        "AWS::EC2::SecurityGroupIngress",
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 443, "CidrIp": "10.0.0.0/8"},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "10.1.0.0/16"},
    )
    assert security.broadenings(narrower) == []


# -- a protected environment refuses to replace what it protects (issue 14) ------------------
# The change set shapes are DescribeChangeSet's for a replacement (`Replacement: True`), which
# moto never reports: the Stubber stands for CloudFormation here.


def test_a_protected_replacement_is_refused_without_allow_replace(cfn, prod):
    from cfn.deploy import envelope
    from cfn.deploy.errors import DeployError

    assert prod.protected
    r = lb_replacement(prod).review(cfn)
    with pytest.raises(DeployError) as info:
        envelope.guard_replacements(prod, r.real, ())
    assert info.value.message == (
        f"prod is protected and this change set replaces or removes {naming.EDGE}/LoadBalancer "
        "(AWS::ElasticLoadBalancingV2::LoadBalancer, replacement True); the change set was "
        "deleted"
    )
    assert info.value.hint == (
        f"if that is intended, plan again with --allow-replace {naming.EDGE}/LoadBalancer"
    )


def test_allow_replace_lets_the_named_replacement_through_and_says_so(cfn, prod):
    from cfn.deploy import envelope
    from cfn.deploy.errors import DeployError

    r = lb_replacement(prod).review(cfn)
    line = (
        f"allowed to replace (--allow-replace): {naming.EDGE}/LoadBalancer "
        "(AWS::ElasticLoadBalancingV2::LoadBalancer)"
    )
    qualified = f"{naming.EDGE}/LoadBalancer"
    # A bare id naming one replaced resource, or the qualified id: recorded qualified.
    for given in ("LoadBalancer", qualified):
        assert envelope.guard_replacements(prod, r.real, (given,)) == ((qualified,), [line])
    with pytest.raises(DeployError, match="replaces no protected resource by that id"):
        envelope.guard_replacements(prod, r.real, ("LoadBalancer", "Vpc"))
    # The same logical id in another stack (or the root) is not this resource.
    for other in ("SomeOtherStack/LoadBalancer", "(root)/LoadBalancer"):
        with pytest.raises(DeployError, match=f"--allow-replace {re.escape(other)}: "):
            envelope.guard_replacements(prod, r.real, (qualified, other))


def _log_group_replacement(stack: str) -> review.Change:
    return review.Change(stack, "Modify", "LogGroup", "AWS::Logs::LogGroup", "True")


def test_a_bare_allow_replace_id_in_several_stacks_is_refused_with_the_qualified_ones(prod):
    from cfn.deploy import envelope
    from cfn.deploy.errors import DeployError

    # Every service's stack has a LogGroup: a bare id must not let them all through.
    stacks = sorted(naming.service_stack_id(s) for s in prod.services)
    assert len(stacks) > 1
    changes = [_log_group_replacement(stack) for stack in stacks]
    with pytest.raises(DeployError) as info:
        envelope.guard_replacements(prod, changes, ("LogGroup",))
    assert info.value.message == (
        f"--allow-replace LogGroup: this change set replaces {len(stacks)} protected resources "
        f"with that logical id ({', '.join(f'{s}/LogGroup' for s in stacks)}); the change set "
        "was deleted"
    )
    assert info.value.hint == "plan again naming each one to allow with its stack: " + " ".join(
        f"--allow-replace {s}/LogGroup" for s in stacks
    )
    # One named by its stack lets only that one through: the others are still refused.
    with pytest.raises(DeployError) as info:
        envelope.guard_replacements(prod, changes, (f"{stacks[0]}/LogGroup",))
    assert info.value.hint == "if that is intended, plan again with " + " ".join(
        f"--allow-replace {s}/LogGroup" for s in stacks[1:]
    )
    allowed, _ = envelope.guard_replacements(prod, changes, tuple(f"{s}/LogGroup" for s in stacks))
    assert allowed == tuple(f"{s}/LogGroup" for s in stacks)


def test_an_unprotected_environment_neither_refuses_nor_takes_allow_replace(
    cfn, prod, story_platform
):
    from cfn.deploy import envelope
    from cfn.deploy.errors import DeployError

    env = next(e for e in story_platform.environments.values() if not e.protected)
    r = lb_replacement(prod).review(cfn)
    assert envelope.guard_replacements(env, r.real, ()) == ((), [])
    with pytest.raises(DeployError, match="is not protected; nothing to allow"):
        envelope.guard_replacements(env, r.real, ("LoadBalancer",))


def test_a_role_losing_or_changing_its_permissions_boundary_is_broadening():
    from cfn.deploy import security

    boundary = "arn:aws:iam::111111111111:policy/insightxi-dev-boundary"
    other = "arn:aws:iam::111111111111:policy/something-wider"
    trust = {"Statement": []}
    kept = _with_contexts(
        "Modify",
        "AWS::IAM::Role",
        {"AssumeRolePolicyDocument": trust, "PermissionsBoundary": boundary},
        {"AssumeRolePolicyDocument": trust, "PermissionsBoundary": boundary},
    )
    assert security.broadenings(kept) == []
    removed = _with_contexts("Modify", "AWS::IAM::Role", {"PermissionsBoundary": boundary}, {})
    assert security.broadenings(removed) == [f"removes its permissions boundary (was {boundary})"]
    changed = _with_contexts(
        "Modify",
        "AWS::IAM::Role",
        {"PermissionsBoundary": boundary},
        {"PermissionsBoundary": other},
    )
    assert security.broadenings(changed) == [
        f"changes its permissions boundary from {boundary} to {other}"
    ]
    new_without = _with_contexts("Add", "AWS::IAM::Role", None, {"RoleName": "x"})
    assert security.broadenings(new_without) == ["created without a permissions boundary"]
    new_with = _with_contexts("Add", "AWS::IAM::Role", None, {"PermissionsBoundary": boundary})
    assert security.broadenings(new_with) == []
    # Without before/after values, the property details alone say it.
    c = review.Change("Edge", "Modify", "TaskRole", "AWS::IAM::Role", "False")
    c.details = [
        review.Detail("/Properties/PermissionsBoundary", before=boundary, change_type="Remove")
    ]
    assert security.broadenings(c) == [f"removes its permissions boundary (was {boundary})"]


def test_every_role_the_templates_create_has_a_boundary_so_a_new_environment_flags_none(
    rendered,
):
    """The rendered roles, as a change set adding them would show them: none is flagged."""
    from cfn.deploy import security

    roles = [
        (t.path, logical, resource)
        for t in rendered
        if not t.path.endswith(naming.BOOTSTRAP_TEMPLATE)
        for logical, resource in json.loads(t.text)["Resources"].items()
        if resource["Type"] == "AWS::IAM::Role"
    ]
    assert roles
    for path, logical, resource in roles:
        c = _with_contexts("Add", "AWS::IAM::Role", None, resource["Properties"])
        assert "created without a permissions boundary" not in security.broadenings(c), (
            path,
            logical,
        )


def test_an_imported_resource_is_risky():
    """AWS's change set says Import for a resource adopted into the stack (an IMPORT change set,
    or automatic import of one with the template's name): it is the stack's from then on."""
    from cfn.deploy import risk

    c = review.Change(naming.EDGE, "Import", "Zone", "AWS::Route53::HostedZone", "")
    risk.classify([c], changed_root=())
    assert c.risk == review.RISKY
    assert c.why == "imported: an existing resource becomes the stack's, to change or delete"
