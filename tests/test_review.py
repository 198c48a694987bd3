"""What moto does not model, with AWS's real response shapes through botocore's Stubber:
nested change sets with replacement details and property values, FAILED change sets, both
forms of "no changes", failed stack events, and the review's rendering of all of it."""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from botocore.stub import Stubber

from cfn.deploy import changesets, review
from cfn.deploy.errors import ChangeSetFailed

REGION = "eu-west-1"
ACCOUNT = "123456789012"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/insightxi-prod/11111111-2222-3333-4444-555555555555"
ROOT_CS = (
    f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/insightxi-prod-20261126-120000-abc/aaaa"
)
NESTED_CS = (
    f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/insightxi-prod-SportmonksService-X/bbbb"
)
NESTED_STACK = (
    f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/insightxi-prod-SportmonksService-X/cccc"
)
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def cfn():
    client = boto3.client(
        "cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        client.stubber = stubber
        yield client
        stubber.assert_no_pending_responses()


def root_description(**extra):
    return {
        "ChangeSetName": "insightxi-prod-20261126-120000-abc",
        "ChangeSetId": ROOT_CS,
        "StackId": STACK_ID,
        "StackName": "insightxi-prod",
        "Status": "CREATE_COMPLETE",
        "ExecutionStatus": "AVAILABLE",
        "CreationTime": NOW,
        "Changes": [
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "SportmonksService",
                    "PhysicalResourceId": NESTED_STACK,
                    "ResourceType": "AWS::CloudFormation::Stack",
                    "Replacement": "False",
                    "Scope": ["Properties"],
                    "ChangeSetId": NESTED_CS,
                    "Details": [
                        {
                            "Target": {
                                "Attribute": "Properties",
                                "Name": "Parameters",
                                "RequiresRecreation": "Never",
                            },
                            "Evaluation": "Static",
                            "ChangeSource": "ParameterReference",
                            "CausingEntity": "SportmonksServiceImageTag",
                        }
                    ],
                },
            },
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "Edge",
                    "PhysicalResourceId": "edge-stack",
                    "ResourceType": "AWS::CloudFormation::Stack",
                    "Replacement": "False",
                },
            },
        ],
        **extra,
    }


def nested_description():
    return {
        "ChangeSetName": "insightxi-prod-SportmonksService-X",
        "ChangeSetId": NESTED_CS,
        "StackId": NESTED_STACK,
        "StackName": "insightxi-prod-SportmonksService-X",
        "Status": "CREATE_COMPLETE",
        "ExecutionStatus": "AVAILABLE",
        "ParentChangeSetId": ROOT_CS,
        "Changes": [
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "TaskDefinition",
                    "PhysicalResourceId": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/insightxi-prod-sportmonks:7",
                    "ResourceType": "AWS::ECS::TaskDefinition",
                    "Replacement": "True",
                    "Scope": ["Properties"],
                    "Details": [
                        {
                            "Target": {
                                "Attribute": "Properties",
                                "Name": "ContainerDefinitions",
                                "RequiresRecreation": "Always",
                                "BeforeValue": '[{"Image":"123456789012.dkr.ecr.eu-west-1.amazonaws.com/sportmonks-service:1a2b3c4"}]',
                                "AfterValue": '[{"Image":"123456789012.dkr.ecr.eu-west-1.amazonaws.com/sportmonks-service:9f8e7d6"}]',
                                "AttributeChangeType": "Modify",
                            },
                            "Evaluation": "Static",
                            "ChangeSource": "DirectModification",
                        }
                    ],
                },
            },
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "Service",
                    "ResourceType": "AWS::ECS::Service",
                    "Replacement": "False",
                    "Details": [
                        {
                            "Target": {
                                "Attribute": "Properties",
                                "Name": "TaskDefinition",
                                "RequiresRecreation": "Never",
                            },
                            "Evaluation": "Dynamic",
                            "ChangeSource": "ResourceReference",
                            "CausingEntity": "TaskDefinition",
                        }
                    ],
                },
            },
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "ExecutionRole",
                    "ResourceType": "AWS::IAM::Role",
                    "Replacement": "False",
                },
            },
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Remove",
                    "LogicalResourceId": "IngressFromServices",
                    "ResourceType": "AWS::EC2::SecurityGroupIngress",
                },
            },
            {
                "Type": "Resource",
                "ResourceChange": {
                    "Action": "Modify",
                    "LogicalResourceId": "TargetGroup",
                    "ResourceType": "AWS::ElasticLoadBalancingV2::TargetGroup",
                    "Replacement": "Conditional",
                },
            },
        ],
    }


def stub_tree(cfn, split_root_pages: bool = False):
    root = root_description()
    if split_root_pages:
        first, second = dict(root), dict(root)
        first["Changes"], second["Changes"] = root["Changes"][:1], root["Changes"][1:]
        first["NextToken"] = "page-2"
        cfn.stubber.add_response(
            "describe_change_set", first, {"ChangeSetName": ROOT_CS, "IncludePropertyValues": True}
        )
        cfn.stubber.add_response(
            "describe_change_set",
            second,
            {"ChangeSetName": ROOT_CS, "IncludePropertyValues": True, "NextToken": "page-2"},
        )
    else:
        cfn.stubber.add_response(
            "describe_change_set", root, {"ChangeSetName": ROOT_CS, "IncludePropertyValues": True}
        )
    cfn.stubber.add_response(
        "describe_change_set",
        nested_description(),
        {"ChangeSetName": NESTED_CS, "IncludePropertyValues": True},
    )


def test_describe_tree_follows_pages_and_nested_change_sets(cfn):
    stub_tree(cfn, split_root_pages=True)
    tree = changesets.describe_tree(cfn, ROOT_CS)
    assert [n.stack_path for n in tree.walk()] == ["", "SportmonksService"]
    assert len(tree.description["Changes"]) == 2
    assert len(tree.nested[0].description["Changes"]) == 5


def test_review_puts_risky_changes_first_and_an_image_deploy_is_routine(cfn):
    stub_tree(cfn)
    r = review.from_described(changesets.describe_tree(cfn, ROOT_CS), REGION, "plans/p.json")
    assert [(c.where, c.why) for c in r.risky] == [
        ("SportmonksService/IngressFromServices", "removed"),
        ("SportmonksService/TargetGroup", "may be replaced: a new target group: tasks re-register"),
    ]
    by_id = {c.where: c for c in r.changes}
    task = by_id["SportmonksService/TaskDefinition"]
    assert task.risk == "routine"
    assert task.why == (
        "new task definition revision (image sportmonks-service 1a2b3c4 → 9f8e7d6), rolled out "
        "by the service's rolling deployment"
    )
    assert by_id["SportmonksService/Service"].why == (
        "rolling deployment to the new task definition revision"
    )
    assert by_id["SportmonksService/ExecutionRole"].risk == "check"
    assert r.counts == {"add": 0, "modify": 6, "remove": 1, "replace": 1, "stacks": 2, "no_op": 0}
    text = review.to_text(r)
    head, rest = text.split("Stack (root):", 1)
    assert "RISKY CHANGES (2), review these first:" in head
    assert head.index("IngressFromServices") < head.index("TargetGroup")
    assert "TaskDefinition" not in head
    assert (
        "Properties.ContainerDefinitions: "
        '[{"Image":"123456789012.dkr.ecr.eu-west-1.amazonaws.com/sportmonks-service:1a2b3c4"}] → '
        '[{"Image":"123456789012.dkr.ecr.eu-west-1.amazonaws.com/sportmonks-service:9f8e7d6"}] '
        "(DirectModification; requires recreation: Always)"
    ) in rest
    assert "Properties.Parameters (ParameterReference SportmonksServiceImageTag)" in rest
    assert "Properties.TaskDefinition (ResourceReference TaskDefinition; Dynamic)" in rest
    assert "Stack SportmonksService:" in rest
    assert "Summary: 0 to add, 6 to modify (1 replaced), 1 to remove, in 2 stack(s)" in text
    assert "changeSetId=arn%3Aaws%3Acloudformation%3Aeu-west-1%3A123456789012%3AchangeSet" in text
    assert text.rstrip().endswith("Plan file: plans/p.json")


def test_review_as_markdown_for_a_pull_request(cfn):
    stub_tree(cfn)
    md = review.to_markdown(review.from_described(changesets.describe_tree(cfn, ROOT_CS), REGION))
    assert md.startswith("### Change set for `insightxi-prod` (eu-west-1)")
    assert "#### ⚠️ Risky changes (2)" in md
    assert (
        "- **Modify** `SportmonksService/TargetGroup` (AWS::ElasticLoadBalancingV2::TargetGroup): "
        "may be replaced" in md
    )
    assert (
        "| SportmonksService | Remove | `IngressFromServices` | AWS::EC2::SecurityGroupIngress "
        "| risky | removed |" in md
    )
    assert "[Open in the CloudFormation console](https://eu-west-1.console.aws.amazon.com/" in md


def _create_stubs(cfn, describe):
    cfn.stubber.add_response("create_change_set", {"Id": ROOT_CS, "StackId": STACK_ID}, None)
    cfn.stubber.add_response("describe_change_set", describe, {"ChangeSetName": ROOT_CS})


def _create(cfn):
    return changesets.create_change_set(
        cfn,
        stack="insightxi-prod",
        name="cs",
        change_set_type="UPDATE",
        template_url="https://b.s3.eu-west-1.amazonaws.com/k/root.json",
        parameters=[],
        tags={"Project": "insightxi"},
        capabilities=["CAPABILITY_NAMED_IAM"],
        description="d",
        sleep=lambda s: None,
    )


def test_a_failed_change_set_reports_aws_reason(cfn):
    _create_stubs(
        cfn,
        root_description(
            Status="FAILED",
            ExecutionStatus="UNAVAILABLE",
            Changes=[],
            StatusReason="Parameters: [SportmonksServiceImageTag] must have values",
        ),
    )
    with pytest.raises(ChangeSetFailed, match=r"failed: Parameters: \[SportmonksServiceImageTag\]"):
        _create(cfn)


def test_no_changes_as_a_failed_change_set_is_deleted_and_reported(cfn):
    _create_stubs(
        cfn,
        root_description(
            Status="FAILED",
            ExecutionStatus="UNAVAILABLE",
            Changes=[],
            StatusReason="The submitted information didn't contain changes. Submit different "
            "information to create a change set.",
        ),
    )
    cfn.stubber.add_response("delete_change_set", {}, {"ChangeSetName": ROOT_CS})
    with pytest.raises(changesets.NoChanges):
        _create(cfn)


def test_no_changes_as_a_validation_error_is_reported(cfn):
    cfn.stubber.add_client_error(
        "create_change_set",
        service_error_code="ValidationError",
        service_message="No updates are to be performed.",
        http_status_code=400,
    )
    with pytest.raises(changesets.NoChanges):
        _create(cfn)


def test_waiting_polls_until_the_change_set_settles(cfn):
    cfn.stubber.add_response("create_change_set", {"Id": ROOT_CS, "StackId": STACK_ID}, None)
    pending = root_description(Status="CREATE_PENDING", Changes=[])
    cfn.stubber.add_response("describe_change_set", pending, {"ChangeSetName": ROOT_CS})
    cfn.stubber.add_response(
        "describe_change_set",
        dict(pending, Status="CREATE_IN_PROGRESS"),
        {"ChangeSetName": ROOT_CS},
    )
    cfn.stubber.add_response("describe_change_set", root_description(), {"ChangeSetName": ROOT_CS})
    slept: list[float] = []
    desc = changesets.create_change_set(
        cfn,
        stack="insightxi-prod",
        name="cs",
        change_set_type="UPDATE",
        tags={},
        description="d",
        template_url="https://x/root.json",
        sleep=slept.append,
    )
    assert desc["Status"] == "CREATE_COMPLETE"
    assert slept == [1, 1]


def _event(logical, rtype, status, reason="", stack="insightxi-prod", event_id=None, physical=""):
    return {
        "StackId": STACK_ID,
        "EventId": event_id or f"{logical}-{status}",
        "StackName": stack,
        "LogicalResourceId": logical,
        "PhysicalResourceId": physical,
        "ResourceType": rtype,
        "Timestamp": NOW,
        "ResourceStatus": status,
        "ResourceStatusReason": reason,
    }


def _stub_stack_status(cfn, status):
    stack = {
        "StackName": "insightxi-prod",
        "StackId": STACK_ID,
        "CreationTime": NOW,
        "StackStatus": status,
    }
    cfn.stubber.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": STACK_ID})


def _plan(**fields):
    """A prod plan file's content, with the fields a test cares about."""
    from cfn.deploy import planfile

    base = {
        "environment": "prod",
        "account": ACCOUNT,
        "region": REGION,
        "stack": "insightxi-prod",
        "stack_id": STACK_ID,
        "change_set_id": ROOT_CS,
        "change_set_name": "cs",
        "change_set_type": "UPDATE",
        "stack_status": "UPDATE_COMPLETE",
        "stack_last_updated": None,
        "artifacts_bucket": "bucket",
        "templates": {},
        "parameters": {},
        "change_count": 1,
        "created_at": "2026-11-26T12:00:00Z",
    }
    return planfile.Plan(**{**base, **fields})


def test_check_still_valid_refuses_an_executed_or_failed_change_set(cfn):
    from cfn.deploy import execute
    from cfn.deploy.aws import Clients
    from cfn.deploy.errors import StalePlan

    sts = boto3.client("sts", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(sts) as sts_stub:
        sts_stub.add_response(
            "get_caller_identity",
            {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/dev", "UserId": "u"},
        )
        cfn.stubber.add_response(
            "describe_change_set",
            root_description(Status="CREATE_COMPLETE", ExecutionStatus="EXECUTE_COMPLETE"),
            {"ChangeSetName": ROOT_CS},
        )
        # Executed by someone else: no event carries this plan's request token.
        cfn.stubber.add_response(
            "describe_stack_events",
            {
                "StackEvents": [
                    _event("insightxi-prod", "AWS::CloudFormation::Stack", "UPDATE_COMPLETE")
                ]
            },
            {"StackName": STACK_ID},
        )
        clients = Clients(cloudformation=cfn, s3=None, secretsmanager=None, sts=sts, region=REGION)
        plan = _plan(
            account=ACCOUNT,
            change_set_id=ROOT_CS,
            change_set_name="insightxi-prod-20261126-120000-abc",
        )
        with pytest.raises(StalePlan, match="execution status EXECUTE_COMPLETE"):
            execute.check_still_valid(clients, plan)


def test_access_denied_and_expired_tokens_are_one_line(cfn):
    from botocore.exceptions import ClientError

    from cfn.deploy.aws import explain

    denied = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "CreateChangeSet"
    )
    assert str(explain(denied)).startswith("access denied to CreateChangeSet: not allowed")
    expired = ClientError({"Error": {"Code": "ExpiredToken", "Message": "x"}}, "DescribeStacks")
    assert "expired" in str(explain(expired))
    assert explain(ValueError("not AWS")) is None


def _stub_drift_start(cfn, stacks):
    """ListStackResources on the root (one nested stack) and DetectStackDrift on both."""
    cfn.stubber.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                {
                    "LogicalResourceId": "SportmonksService",
                    "PhysicalResourceId": NESTED_STACK,
                    "ResourceType": "AWS::CloudFormation::Stack",
                    "ResourceStatus": "UPDATE_COMPLETE",
                    "LastUpdatedTimestamp": NOW,
                }
            ]
        },
        {"StackName": "insightxi-prod"},
    )
    cfn.stubber.add_response(
        "list_stack_resources", {"StackResourceSummaries": []}, {"StackName": NESTED_STACK}
    )
    for i, sid in enumerate(stacks):
        cfn.stubber.add_response(
            "detect_stack_drift", {"StackDriftDetectionId": f"d-{i}"}, {"StackName": sid}
        )


def _detection(i, status, drift_status="IN_SYNC", reason=None):
    body = {
        "StackId": STACK_ID,
        "StackDriftDetectionId": f"d-{i}",
        "DetectionStatus": status,
        "Timestamp": NOW,
    }
    if status != "DETECTION_IN_PROGRESS":
        body["StackDriftStatus"] = drift_status
    if reason:
        body["DetectionStatusReason"] = reason
    return body


def test_drift_detection_is_bounded_in_time(cfn):
    from cfn.deploy import drift

    _stub_drift_start(cfn, ["insightxi-prod", NESTED_STACK])
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    # Both stay in progress: two rounds of polling, then the budget is spent.
    for _round in range(2):
        for i in range(2):
            cfn.stubber.add_response(
                "describe_stack_drift_detection_status",
                _detection(i, "DETECTION_IN_PROGRESS"),
                {"StackDriftDetectionId": f"d-{i}"},
            )
    report = drift.detect(cfn, "insightxi-prod", timeout=1.0, sleep=sleep, clock=lambda: now[0])
    assert not report.checked
    assert report.line() == "drift not checked: timed out after 1 s"


def test_drift_that_cannot_be_detected_is_said_not_raised(cfn):
    from cfn.deploy import drift

    cfn.stubber.add_client_error(
        "list_stack_resources",
        service_error_code="AccessDenied",
        service_message="not authorized to perform: cloudformation:ListStackResources",
        http_status_code=403,
    )
    report = drift.detect(cfn, "insightxi-prod")
    assert report.line() == (
        "drift not checked: ListStackResources: AccessDenied: not authorized to perform: "
        "cloudformation:ListStackResources"
    )


def test_a_failed_detection_on_one_stack_keeps_the_others(cfn):
    from cfn.deploy import drift

    _stub_drift_start(cfn, ["insightxi-prod", NESTED_STACK])
    cfn.stubber.add_response(
        "describe_stack_drift_detection_status",
        _detection(0, "DETECTION_COMPLETE"),
        {"StackDriftDetectionId": "d-0"},
    )
    cfn.stubber.add_response(
        "describe_stack_drift_detection_status",
        _detection(1, "DETECTION_FAILED", "DRIFTED", "Failed to detect drift on resource X"),
        {"StackDriftDetectionId": "d-1"},
    )
    cfn.stubber.add_response(
        "describe_stack_resource_drifts",
        {
            "StackResourceDrifts": [
                {
                    "StackId": NESTED_STACK,
                    "LogicalResourceId": "Service",
                    "ResourceType": "AWS::ECS::Service",
                    "StackResourceDriftStatus": "MODIFIED",
                    "PropertyDifferences": [
                        {
                            "PropertyPath": "/DesiredCount",
                            "ExpectedValue": "2",
                            "ActualValue": "6",
                            "DifferenceType": "NOT_EQUAL",
                        }
                    ],
                    "Timestamp": NOW,
                }
            ]
        },
        {"StackName": NESTED_STACK, "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]},
    )
    report = drift.detect(cfn, "insightxi-prod", sleep=lambda s: None)
    assert report.line() == (
        "drift checked on 2 stack(s): 1 resource(s) changed outside CloudFormation "
        "(detection failed for SportmonksService)"
    )
    (found,) = report.resources
    assert (found.where, found.summary()) == (
        "SportmonksService/Service",
        "/DesiredCount: template 2, actual 6",
    )
    service = review.Change("SportmonksService", "Modify", "Service", "AWS::ECS::Service", "False")
    service.details = [review.Detail("/Properties/DesiredCount", "2", "3")]
    assert report.overwritten_by(service) == [
        "overwrites a change made outside CloudFormation: /DesiredCount: template 2, actual 6"
    ]
    service.details = [review.Detail("/Properties/TaskDefinition", "a", "b")]
    assert report.overwritten_by(service)[0].startswith("drifted outside CloudFormation (not ")


# -- failures with their reasons ---------------------------------------------------------------


def test_a_failed_nested_change_set_reports_its_own_reason(cfn):
    _create_stubs(
        cfn,
        root_description(
            Status="FAILED",
            ExecutionStatus="UNAVAILABLE",
            Changes=[],
            StatusReason=f"Nested change set {NESTED_CS} was not successfully created: Currently "
            "in FAILED.",
        ),
    )
    cfn.stubber.add_response(
        "describe_change_set",
        dict(
            nested_description(),
            Status="FAILED",
            Changes=[],
            StatusReason="Template error: instance of Fn::GetAtt references undefined resource "
            "LoadBalancr",
        ),
        {"ChangeSetName": NESTED_CS},
    )
    with pytest.raises(ChangeSetFailed) as info:
        _create(cfn)
    assert (
        "nested stack insightxi-prod-SportmonksService-X: Template error: instance of "
        "Fn::GetAtt references undefined resource LoadBalancr"
    ) in str(info.value)


def test_revert_drift_asks_for_a_drift_aware_change_set(cfn):
    cfn.stubber.add_response(
        "create_change_set",
        {"Id": ROOT_CS, "StackId": STACK_ID},
        {
            "StackName": "insightxi-prod",
            "ChangeSetName": "cs",
            "ChangeSetType": "UPDATE",
            "Parameters": [],
            "Tags": [],
            "Capabilities": [],
            "IncludeNestedStacks": True,
            "Description": "d",
            "TemplateURL": "https://x/root.json",
            "DeploymentMode": "REVERT_DRIFT",
        },
    )
    cfn.stubber.add_response("describe_change_set", root_description(), {"ChangeSetName": ROOT_CS})
    desc = changesets.create_change_set(
        cfn,
        stack="insightxi-prod",
        name="cs",
        change_set_type="UPDATE",
        tags={},
        description="d",
        template_url="https://x/root.json",
        deployment_mode="REVERT_DRIFT",
        sleep=lambda s: None,
    )
    assert desc["ChangeSetId"] == ROOT_CS


# -- values and secrets ------------------------------------------------------------------------


def test_secret_parameters_are_never_shown():
    template = '{"Parameters": {"ApiKey": {"Type": "String", "NoEcho": true}, "Tag": {}}}'
    secrets = review.secret_parameters([template])
    assert secrets == {"ApiKey"}
    found = review.parameter_changes(
        [],
        {"ApiKey": "old-secret", "Tag": "a", "Masked": "****"},
        {"ApiKey": "new-secret", "Tag": "b", "Masked": "x"},
        secrets,
    )
    assert [(p.name, p.before, p.after) for p in found] == [
        ("ApiKey", "(secret, not shown)", "(secret, not shown)"),
        ("Masked", "(secret, not shown)", "x"),
        ("Tag", "a", "b"),
    ]


def test_large_values_are_summarised_not_cut():
    from cfn.deploy.reviewtext import pair, value

    before = json.dumps(
        {"Statement": [{"Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/" + "x" * 120}]}
    )
    after = json.dumps(
        {"Statement": [{"Action": "s3:PutObject", "Resource": "arn:aws:s3:::b/" + "x" * 120}]}
    )
    assert pair(before, after) == "/Statement/0/Action: s3:GetObject → s3:PutObject"
    text = "line one\nline two"
    assert value(text).startswith("(17 characters, sha256 ")
    assert value("{{changeSet:KNOWN_AFTER_APPLY}}") == "(known after apply)"


# -- plan files and execute -------------------------------------------------------------------


def test_a_no_change_plan_marks_older_plan_files_of_the_environment_spent(tmp_path):
    from cfn.deploy import planfile

    mine, other, broken = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    planfile.write(mine, _plan())
    planfile.write(other, _plan(environment="staging"))
    broken.write_text("{")
    marked = planfile.mark_spent([mine, other, broken, tmp_path / "missing.json", mine], "prod")
    assert marked == [mine]
    assert planfile.read(mine).spent and not planfile.read(other).spent
    assert broken.read_text() == "{"


def _invoke_execute(tmp_path, monkeypatch, plan, *args):
    from click.testing import CliRunner

    from cfn import cli
    from cfn.deploy import execute, planfile

    path = tmp_path / "plan.json"
    planfile.write(path, plan)
    ran = []
    # Stand-ins for AWS: what is under test is the CLI's decision, not the change set calls.
    monkeypatch.setattr(execute, "check_still_valid", lambda clients, p: {})
    monkeypatch.setattr(
        execute,
        "run",
        lambda clients, p, *a, **kw: ran.append(p) or execute.Outcome(p.stack, "UPDATE_COMPLETE"),
    )
    monkeypatch.setattr("cfn.deploy.aws.make_clients", lambda *a, **kw: None)
    result = CliRunner().invoke(
        cli.deploy, ["execute", str(path), "--env", plan.environment, *args]
    )
    return result, ran


def test_execute_of_a_spent_plan_has_nothing_to_do(tmp_path, monkeypatch):
    result, ran = _invoke_execute(tmp_path, monkeypatch, _plan(spent=True))
    assert result.exit_code == 0
    assert result.stdout.strip() == "nothing to execute: the last plan found no changes"
    assert ran == []


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_execute_of_a_broadening_plan_needs_explicit_confirmation(
    tmp_path, monkeypatch, environment, platform
):
    assert environment in platform.environments
    broadening = ("SportmonksService/TaskRole (AWS::IAM::Role): policy app allows s3:* on *",)
    plan = _plan(environment=environment, broadening=broadening)
    result, ran = _invoke_execute(tmp_path, monkeypatch, plan)
    assert result.exit_code == 1 and ran == []
    assert "the plan broadens security and there is no terminal to confirm in" in result.stderr
    result, ran = _invoke_execute(tmp_path, monkeypatch, plan, "--yes")
    assert result.exit_code == 0 and len(ran) == 1


def test_a_plan_of_only_dynamic_no_ops_answers_no_changes(tmp_path, monkeypatch, capsys):
    from cfn.cli.context import DeployContext
    from cfn.cli.review import no_changes
    from cfn.deploy import planfile
    from cfn.deploy.plan import PlanResult

    monkeypatch.chdir(tmp_path)
    older = tmp_path / "plans" / "insightxi-prod.json"
    older.parent.mkdir()
    planfile.write(older, _plan())
    no_op = review.Change("", "Modify", "Cluster", "AWS::CloudFormation::Stack", "False")
    ctx = DeployContext("prod", None, None, None, "text", None)
    with pytest.raises(SystemExit) as info:
        no_changes(ctx, PlanResult(None, None, [], no_ops=[no_op]), [older], None)
    assert info.value.code == 0
    out = capsys.readouterr()
    assert out.out.strip() == (
        "no changes: insightxi-prod already matches the templates (1 Dynamic evaluation(s) that "
        "change nothing: Cluster)"
    )
    assert f"{older}: marked spent" in out.err
    assert planfile.read(older).spent
