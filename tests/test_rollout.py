"""`bin/deploy execute` against the stories moto cannot tell: ECS rollouts that fail, nested
stacks with an old failure in their history, a throttled execute, Ctrl-C at the wrong moment.

Each story is AWS's documented response shapes through botocore's `Stubber` (CloudFormation,
ECS, ELBv2, STS), played in the order the command makes its calls; the command runs whole
through `deploy_main`, and each test asserts the verdict line on stdout and the exit code.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
import time
import types
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from cfn import naming
from cfn.cli import deploy_main
from cfn.deploy import aws as aws_mod
from cfn.deploy import changesets, events, planfile
from cfn.deploy.aws import Clients

REGION = "eu-west-1"
ACCOUNT = "123456789012"
T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
LAST_WEEK = T0 - dt.timedelta(days=7)
CS = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/insightxi-dev-20261130-090000-abc/1"
OLD_REASON = "last week's circuit breaker: old-tag not found"


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _client(name: str) -> Any:
    client = boto3.client(
        name, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    client.stubber = Stubber(client)
    client.stubber.activate()
    return client


class Story:
    """One deployment of one service (the first in the configuration with `pick`)."""

    def __init__(self, env: Any, service: Any, tag: str) -> None:
        self.env, self.service, self.tag = env, service, tag
        self.cfn, self.ecs, self.elbv2, self.sts = (
            _client(n) for n in ("cloudformation", "ecs", "elbv2", "sts")
        )
        self.root = naming.root_stack(env)
        self.root_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{self.root}/r00t"
        self.nested = f"{self.root}-{naming.service_stack_id(service)}-1ABCDEFGHIJK"
        self.nested_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{self.nested}/n35t"
        self.cluster = naming.cluster(env)
        self.ecs_service = naming.ecs_service(env, service)
        self.tg = (
            f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{self.ecs_service}/1"
        )
        self.token = events.token_for(CS)
        self.old_events = [self.event(self.root, "UPDATE_COMPLETE", LAST_WEEK, token="old")]
        self.plan = planfile.Plan(
            environment=env.name,
            account=ACCOUNT,
            region=REGION,
            stack=self.root,
            stack_id=self.root_id,
            change_set_id=CS,
            change_set_name="insightxi-dev-20261130-090000-abc",
            change_set_type="UPDATE",
            stack_status="UPDATE_COMPLETE",
            stack_last_updated=str(LAST_WEEK),
            artifacts_bucket="bucket",
            templates={},
            parameters={naming.image_tag_parameter(service): {"value": tag}},
            change_count=1,
            created_at="2026-11-30T09:00:00Z",
        )

    @property
    def clients(self) -> Clients:
        made = {"ecs": self.ecs, "elbv2": self.elbv2}
        return Clients(
            cloudformation=self.cfn,
            s3=None,
            secretsmanager=None,
            sts=self.sts,
            region=REGION,
            make=made.get,
        )

    def event(
        self, logical, status, when, *, stack=None, rtype=None, reason="", token=None, physical=""
    ):
        stack = stack or self.root
        event = {
            "StackId": self.nested_id if stack == self.nested else self.root_id,
            "EventId": f"{stack}-{logical}-{status}-{when.isoformat()}",
            "StackName": stack,
            "LogicalResourceId": logical,
            "PhysicalResourceId": physical,
            "ResourceType": rtype or "AWS::CloudFormation::Stack",
            "Timestamp": when,
            "ResourceStatus": status,
            "ResourceStatusReason": reason,
            "ClientRequestToken": token or self.token,
        }
        if token == "none":  # an event that does not repeat the operation's token
            del event["ClientRequestToken"]
        return event

    def nested_event(self, status, when, reason=""):
        return self.event(
            naming.service_stack_id(self.service),
            status,
            when,
            reason=reason,
            physical=self.nested_id,
        )

    def stack_events(self, stack_id: str, newest_first: list[dict], next_token: bool = False):
        page: dict[str, Any] = {"StackEvents": newest_first}
        if next_token:  # older history the command must not read
            page["NextToken"] = "older-history"
        self.cfn.stubber.add_response("describe_stack_events", page, {"StackName": stack_id})

    def stack_status(self, status: str, name: str | None = None) -> None:
        stack = {
            "StackName": self.root,
            "StackId": self.root_id,
            "CreationTime": LAST_WEEK,
            "LastUpdatedTime": LAST_WEEK,
            "StackStatus": status,
        }
        self.cfn.stubber.add_response(
            "describe_stacks", {"Stacks": [stack]}, {"StackName": name or self.root_id}
        )

    def prelude(self, execution: str = "AVAILABLE") -> None:
        """check_still_valid, then the marks taken before ExecuteChangeSet."""
        self.sts.stubber.add_response(
            "get_caller_identity",
            {
                "Account": ACCOUNT,
                "Arn": f"arn:aws:iam::{ACCOUNT}:user/deployer",
                "UserId": "AIDAEXAMPLE",
            },
        )
        change = {
            "Action": "Modify",
            "LogicalResourceId": naming.service_stack_id(self.service),
            "ResourceType": "AWS::CloudFormation::Stack",
        }
        self.cfn.stubber.add_response(
            "describe_change_set",
            {
                "ChangeSetId": CS,
                "StackId": self.root_id,
                "Status": "CREATE_COMPLETE",
                "ExecutionStatus": execution,
                "Changes": [{"Type": "Resource", "ResourceChange": change}],
            },
            {"ChangeSetName": CS},
        )

    def before_execute(self) -> None:
        self.stack_status("UPDATE_COMPLETE", name=self.root)
        self.stack_events(self.root_id, self.old_events)  # ours_already: no
        self.stack_events(self.root_id, self.old_events, next_token=True)  # the mark

    def executed(self) -> None:
        self.cfn.stubber.add_response(
            "execute_change_set", {}, {"ChangeSetName": CS, "ClientRequestToken": self.token}
        )

    def deployment(
        self, id_, when, state, *, running=0, pending=0, failed=0, status="PRIMARY", reason=""
    ):
        return {
            "id": id_,
            "status": status,
            "taskDefinition": f"td/{id_}",
            "desiredCount": 2,
            "pendingCount": pending,
            "runningCount": running,
            "failedTasks": failed,
            "createdAt": when,
            "updatedAt": when,
            "rolloutState": state,
            "rolloutStateReason": reason,
        }

    def ecs_round(
        self, deployments, service_events, *, record=None, stopped=(), new_tasks=(), targets=()
    ):
        """One poll of the service: DescribeServices, its deployment record, stopped tasks,
        target health."""
        svc = {
            "serviceName": self.ecs_service,
            "status": "ACTIVE",
            "deployments": deployments,
            "events": service_events,
            "loadBalancers": [
                {
                    "targetGroupArn": self.tg,
                    "containerName": "app",
                    "containerPort": self.service.port,
                }
            ],
        }
        self.ecs.stubber.add_response(
            "describe_services",
            {"services": [svc], "failures": []},
            {"cluster": self.cluster, "services": [self.ecs_service]},
        )
        if record is None:  # a region or endpoint without the service-deployments API
            self.ecs.stubber.add_client_error(
                "list_service_deployments", "UnknownOperationException", http_status_code=400
            )
        else:
            arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{self.cluster}/x/1"
            self.ecs.stubber.add_response(
                "list_service_deployments",
                {"serviceDeployments": [{"serviceDeploymentArn": arn, "status": record["status"]}]},
                {"cluster": self.cluster, "service": self.ecs_service, "createdAt": ANY},
            )
            self.ecs.stubber.add_response(
                "describe_service_deployments",
                {"serviceDeployments": [{"serviceDeploymentArn": arn, **record}], "failures": []},
                {"serviceDeploymentArns": [arn]},
            )
        self.ecs.stubber.add_response(
            "list_tasks",
            {"taskArns": list(stopped)},
            {"cluster": self.cluster, "serviceName": self.ecs_service, "desiredStatus": "STOPPED"},
        )
        if new_tasks:
            self.ecs.stubber.add_response(
                "describe_tasks",
                {"tasks": list(new_tasks), "failures": []},
                {"cluster": self.cluster, "tasks": [t["taskArn"] for t in new_tasks]},
            )
        self.elbv2.stubber.add_response(
            "describe_target_health",
            {"TargetHealthDescriptions": list(targets)},
            {"TargetGroupArn": self.tg},
        )

    def task(self, n: int, when, stopped_reason: str, container_reason: str = ""):
        container = {"name": "app", "lastStatus": "STOPPED"}
        if container_reason:
            container["reason"] = container_reason
        return {
            "taskArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{self.cluster}/{n}{'0a1b' * 8}",
            "createdAt": when,
            "lastStatus": "STOPPED",
            "stoppedReason": stopped_reason,
            "stopCode": "TaskFailedToStart",
            "containers": [container],
        }

    def image(self, tag: str) -> None:
        self.ecs.stubber.add_response(
            "describe_task_definition",
            {
                "taskDefinition": {
                    "containerDefinitions": [
                        {
                            "name": "app",
                            "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/"
                            f"{self.service.repository}:{tag}",
                        }
                    ]
                }
            },
            {"taskDefinition": ANY},
        )

    def done(self) -> None:
        for c in (self.cfn, self.ecs, self.elbv2, self.sts):
            c.stubber.assert_no_pending_responses()


@pytest.fixture
def story(platform, monkeypatch, tmp_path):
    env = platform.env("dev")
    service = next(s for s in env.services if s.secrets)  # a service that reads a secret
    s = Story(env, service, "9f8e7d6")
    monkeypatch.setattr(aws_mod, "make_clients", lambda *a, **k: s.clients)
    monkeypatch.setattr(changesets, "POLL_DELAYS", (0,))
    s.plan_file = tmp_path / "plan.json"
    planfile.write(s.plan_file, s.plan)
    return s


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """`bin/deploy ARGS` in this process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["deploy", *args])
    code = 0
    try:
        deploy_main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def execute(story: Story, monkeypatch, capsys, *extra: str) -> tuple[int, str, str]:
    return run(
        monkeypatch, capsys, "execute", str(story.plan_file), "--env", story.env.name, *extra
    )


def _wrong_tag_round_1(s: Story, pull: str) -> dict:
    # Round 1: the root starts; the service stack is not listed yet.
    s.stack_status("UPDATE_IN_PROGRESS")
    s.stack_events(
        s.root_id,
        [s.event(s.root, "UPDATE_IN_PROGRESS", at(1), reason="User Initiated"), *s.old_events],
    )
    old = s.deployment("ecs-svc/old", LAST_WEEK, "COMPLETED", running=2, status="ACTIVE")
    ours = s.deployment("ecs-svc/new", at(30), "IN_PROGRESS", pending=2, failed=1)
    started = {
        "id": "e1",
        "createdAt": at(40),
        "message": f"(service {s.ecs_service}) has started 2 tasks: (task 1).",
    }
    task1 = s.task(1, at(35), "Task failed to start", pull)
    s.ecs_round(
        [ours, old],
        [started],
        stopped=[task1["taskArn"]],
        new_tasks=[task1],
        record={
            "status": "IN_PROGRESS",
            "deploymentCircuitBreaker": {"status": "MONITORING", "failureCount": 1, "threshold": 3},
        },
    )
    return ours


def _wrong_tag_round_2(s: Story, pull: str, ours: dict) -> None:
    task1 = s.task(1, at(35), "Task failed to start", pull)
    # Round 2: settled. The nested stack appears now and is read before deciding; its history
    # holds last week's failure (another token, older) which must not be reported.
    s.stack_status("UPDATE_ROLLBACK_COMPLETE")
    s.stack_events(
        s.root_id,
        [
            s.event(s.root, "UPDATE_ROLLBACK_COMPLETE", at(400)),
            s.nested_event("UPDATE_FAILED", at(300), "Embedded stack was not successfully updated"),
            s.nested_event("UPDATE_IN_PROGRESS", at(2)),
            s.event(s.root, "UPDATE_IN_PROGRESS", at(1), reason="User Initiated"),
        ],
    )
    breaker = (
        "Resource handler returned message: \"Error occurred during operation 'ECS "
        "Deployment Circuit Breaker was triggered'.\""
    )
    s.stack_events(
        s.nested_id,
        [
            s.event(
                "Service",
                "UPDATE_FAILED",
                at(290),
                stack=s.nested,
                rtype="AWS::ECS::Service",
                reason=breaker,
            ),
            s.event(s.nested, "UPDATE_IN_PROGRESS", at(3), stack=s.nested),
            s.event(
                "Service",
                "UPDATE_FAILED",
                LAST_WEEK,
                stack=s.nested,
                rtype="AWS::ECS::Service",
                reason=OLD_REASON,
                token="old",
            ),
        ],
        next_token=True,
    )
    rollback = s.deployment("ecs-svc/rollback", at(280), "COMPLETED", running=2)
    failed = dict(
        ours,
        status="ACTIVE",
        rolloutState="FAILED",
        failedTasks=3,
        rolloutStateReason="ECS deployment circuit breaker: tasks failed to start.",
    )
    task2 = s.task(2, at(120), "Task failed to start", pull)
    s.ecs_round(
        [rollback, failed],
        [],
        stopped=[task1["taskArn"], task2["taskArn"]],
        new_tasks=[task2],
        record={
            "status": "ROLLBACK_SUCCESSFUL",
            "statusReason": "ECS deployment circuit breaker: tasks failed to start.",
        },
    )


def test_a_wrong_image_tag_fails_with_the_pull_error_and_exit_1(story, monkeypatch, capsys):
    """AWS: the new task definition's image tag is not in ECR. Tasks stop with
    CannotPullContainerError, the circuit breaker trips and rolls back; CloudFormation reports
    UPDATE_FAILED on the service and the root ends UPDATE_ROLLBACK_COMPLETE."""
    s = story
    pull = (
        f"CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to "
        f"resolve ref {ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{s.service.repository}:9f8e7d6: "
        "not found"
    )
    s.prelude()
    s.before_execute()
    s.executed()
    ours = _wrong_tag_round_1(s, pull)
    _wrong_tag_round_2(s, pull, ours)

    code, out, err = execute(s, monkeypatch, capsys)

    assert code == 1, err
    assert out.splitlines() == [
        f"{s.root}: UPDATE_ROLLBACK_COMPLETE",
        f"{s.service.name}: FAILED: {pull} (the circuit breaker rolled the service back)",
    ]
    assert f"error: the deployment failed (UPDATE_ROLLBACK_COMPLETE): {s.service.name}: " in err
    assert "Circuit Breaker was triggered" in err  # the nested stack found in the last round
    assert (
        f"  {s.service.name}: task 10a1b0a1 stopped: Task failed to start; container app: " in err
    )
    assert "ECS deployment ROLLBACK_SUCCESSFUL" in err
    assert OLD_REASON not in out + err and "Traceback" not in err
    s.done()


def test_a_missing_secret_names_the_secret(story, monkeypatch, capsys):
    """AWS: the task execution role cannot fetch the secret (deleted after plan): tasks stop
    with ResourceInitializationError naming the secret's ARN; the circuit breaker rolls back.
    This region has no service-deployments API (UnknownOperationException): the verdict comes
    from DescribeServices alone."""
    s = story
    secret = naming.secret(s.env, s.service, s.service.secrets[0])
    init_error = (
        "ResourceInitializationError: unable to pull secrets or registry auth: execution "
        "resource retrieval failed: unable to retrieve secret from asm: service call has been "
        f"retried 1 time(s): failed to fetch secret arn:aws:secretsmanager:{REGION}:{ACCOUNT}:"
        f"secret:{secret}-AbCdEf from secrets manager: ResourceNotFoundException: Secrets "
        "Manager can't find the specified secret."
    )
    s.prelude()
    s.before_execute()
    s.executed()
    s.stack_status("UPDATE_ROLLBACK_IN_PROGRESS")
    s.stack_events(
        s.root_id,
        [
            s.event(s.root, "UPDATE_ROLLBACK_IN_PROGRESS", at(300)),
            s.event(s.root, "UPDATE_IN_PROGRESS", at(1), reason="User Initiated"),
            *s.old_events,
        ],
    )
    failed = s.deployment(
        "ecs-svc/new",
        at(30),
        "FAILED",
        failed=3,
        status="ACTIVE",
        reason="ECS deployment circuit breaker: tasks failed to start.",
    )
    rollback = s.deployment("ecs-svc/rollback", at(280), "IN_PROGRESS", running=2)
    task = s.task(1, at(35), f"{init_error}")
    s.ecs_round([rollback, failed], [], stopped=[task["taskArn"]], new_tasks=[task])
    s.stack_status("UPDATE_ROLLBACK_COMPLETE")
    s.stack_events(
        s.root_id,
        [
            s.event(s.root, "UPDATE_ROLLBACK_COMPLETE", at(400)),
            s.event(s.root, "UPDATE_ROLLBACK_IN_PROGRESS", at(300)),
        ],
    )
    s.ecs.stubber.add_response(
        "describe_services",
        {
            "services": [
                {
                    "serviceName": s.ecs_service,
                    "status": "ACTIVE",
                    "deployments": [rollback, failed],
                    "events": [],
                }
            ]
        },
        {"cluster": s.cluster, "services": [s.ecs_service]},
    )
    s.ecs.stubber.add_response(
        "list_tasks",
        {"taskArns": [task["taskArn"]]},
        {"cluster": s.cluster, "serviceName": s.ecs_service, "desiredStatus": "STOPPED"},
    )

    code, out, err = execute(s, monkeypatch, capsys)

    assert code == 1, err
    verdict = out.splitlines()[1]
    assert verdict.startswith(
        f"{s.service.name}: FAILED: secret {secret} cannot be read (ResourceInitializationError)"
    )
    assert verdict.endswith("(the circuit breaker rolled the service back)")
    s.done()


def test_a_failing_health_check_names_the_path_and_the_status(story, monkeypatch, capsys):
    """AWS: the container starts but answers 404 on the health check path; the ALB marks the
    targets unhealthy, ECS replaces the tasks ("failed ELB health checks"), the circuit
    breaker trips and rolls back."""
    s = story
    s.prelude()
    s.before_execute()
    s.executed()
    s.stack_status("UPDATE_ROLLBACK_COMPLETE")
    s.stack_events(
        s.root_id,
        [
            s.event(s.root, "UPDATE_ROLLBACK_COMPLETE", at(600)),
            s.event(s.root, "UPDATE_IN_PROGRESS", at(1), reason="User Initiated"),
            *s.old_events,
        ],
    )
    failed = s.deployment(
        "ecs-svc/new",
        at(30),
        "FAILED",
        failed=4,
        status="ACTIVE",
        reason="ECS deployment circuit breaker: tasks failed to start.",
    )
    rollback = s.deployment("ecs-svc/rollback", at(500), "COMPLETED", running=2)
    elb = f"Task failed ELB health checks in (target-group {s.tg})"
    task = s.task(1, at(60), elb, "Essential container in task exited")
    target = {
        "Target": {"Id": "10.10.16.23", "Port": s.service.port},
        "TargetHealth": {
            "State": "unhealthy",
            "Reason": "Target.ResponseCodeMismatch",
            "Description": "Health checks failed with these codes: [404]",
        },
    }
    unhealthy = {
        "id": "e2",
        "createdAt": at(90),
        "message": f"(service {s.ecs_service}) (port {s.service.port}) is unhealthy in "
        f"(target-group {s.tg}) due to (reason Health checks failed with these codes: "
        "[404]).",
    }
    s.ecs_round(
        [rollback, failed],
        [unhealthy],
        stopped=[task["taskArn"]],
        new_tasks=[task],
        targets=[target],
        record={"status": "ROLLBACK_SUCCESSFUL"},
    )

    code, out, err = execute(s, monkeypatch, capsys)

    assert code == 1, err
    assert out.splitlines()[1] == (
        f"{s.service.name}: FAILED: health check {s.service.health_check_path} failed on "
        f"10.10.16.23:{s.service.port}: Health checks failed with these codes: [404] "
        "(Target.ResponseCodeMismatch) (the circuit breaker rolled the service back)"
    )
    assert "is unhealthy in (target-group" in err  # the service event, shown as it came
    s.done()


def _healthy_finish(s: Story, *, record: dict | None = None) -> None:
    """The stack completes; the new deployment runs the new tag on every desired task."""
    s.stack_status("UPDATE_COMPLETE")
    s.stack_events(
        s.root_id,
        [
            s.event(s.root, "UPDATE_COMPLETE", at(300)),
            s.nested_event("UPDATE_COMPLETE", at(290)),
            s.nested_event("UPDATE_IN_PROGRESS", at(2)),
            s.event(s.root, "UPDATE_IN_PROGRESS", at(1), reason="User Initiated"),
            *s.old_events,
        ],
    )
    # The nested stack's history: last week's failed rollout, with another token.
    s.stack_events(
        s.nested_id,
        [
            s.event(s.nested, "UPDATE_COMPLETE", at(289), stack=s.nested),
            # Today's, without the token: still this operation's (after the nested stack began).
            s.event(
                "Service",
                "UPDATE_COMPLETE",
                at(288),
                stack=s.nested,
                rtype="AWS::ECS::Service",
                token="none",
            ),
            s.event(s.nested, "UPDATE_IN_PROGRESS", at(3), stack=s.nested),
            s.event(s.nested, "UPDATE_ROLLBACK_COMPLETE", LAST_WEEK, stack=s.nested, token="old"),
            s.event(
                "Service",
                "UPDATE_FAILED",
                LAST_WEEK,
                stack=s.nested,
                rtype="AWS::ECS::Service",
                reason=OLD_REASON,
                token="old",
            ),
        ],
        next_token=True,
    )
    ours = s.deployment("ecs-svc/new", at(30), "COMPLETED", running=2)
    s.ecs_round([ours], [], record=record)
    s.image(s.tag)


def test_a_nested_stack_with_an_old_failure_is_not_reported(story, monkeypatch, capsys):
    """AWS: the service's nested stack failed last week (its history keeps the UPDATE_FAILED
    with that operation's token); today's update succeeds. Only today's events are shown."""
    s = story
    s.prelude()
    s.before_execute()
    s.executed()
    _healthy_finish(s)

    code, out, err = execute(s, monkeypatch, capsys)

    assert code == 0, err
    assert out.splitlines() == [
        f"{s.root}: UPDATE_COMPLETE",
        f"{s.service.name}: rolled out: {s.tag}, 2/2 running",
    ]
    assert OLD_REASON not in err and "UPDATE_FAILED" not in err
    assert "UPDATE_COMPLETE              AWS::ECS::Service" in err
    s.done()


def test_a_throttled_execute_is_retried_with_the_same_token(story, monkeypatch, capsys):
    """AWS: ExecuteChangeSet is throttled after botocore's own retries; the retry (same
    ClientRequestToken) finds the change set already executing (InvalidChangeSetStatus) because
    the first request went through. The command follows that operation instead of failing."""
    s = story
    s.prelude()
    s.before_execute()
    same = {"ChangeSetName": CS, "ClientRequestToken": s.token}
    s.cfn.stubber.add_client_error(
        "execute_change_set", "Throttling", "Rate exceeded", 400, expected_params=same
    )
    s.cfn.stubber.add_client_error(
        "execute_change_set",
        "InvalidChangeSetStatus",
        "ChangeSet is in EXECUTE_IN_PROGRESS state",
        400,
        expected_params=same,
    )
    s.stack_events(s.root_id, [s.event(s.root, "UPDATE_IN_PROGRESS", at(1)), *s.old_events])
    _healthy_finish(s)

    code, out, err = execute(s, monkeypatch, capsys)

    assert code == 0, err
    assert out.splitlines()[-1] == f"{s.service.name}: rolled out: {s.tag}, 2/2 running"
    s.done()


def test_a_second_execute_of_the_same_plan_follows_it(story, monkeypatch, capsys):
    """AWS: the change set is EXECUTE_IN_PROGRESS and the root's newest events carry this
    plan's token (an earlier `execute` was interrupted): no second ExecuteChangeSet, follow."""
    s = story
    s.prelude(execution="EXECUTE_IN_PROGRESS")
    running = [s.event(s.root, "UPDATE_IN_PROGRESS", at(1), reason="User Initiated"), *s.old_events]
    s.stack_events(s.root_id, running)  # check_still_valid: ours
    s.stack_events(s.root_id, running)  # run: ours, so resume
    s.stack_events(s.root_id, running)  # where the operation started
    _healthy_finish(s, record={"status": "SUCCESSFUL"})

    code, out, err = execute(s, monkeypatch, capsys)

    assert code == 0, err
    assert out.splitlines()[-1] == f"{s.service.name}: rolled out: {s.tag}, 2/2 running"
    assert "ECS deployment SUCCESSFUL" in err
    s.done()


def test_json_output_is_one_event_per_line_and_the_result_last(story, monkeypatch, capsys):
    import json

    s = story
    s.prelude()
    s.before_execute()
    s.executed()
    _healthy_finish(s)

    code, out, _ = execute(s, monkeypatch, capsys, "--output", "json")

    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert {line["type"] for line in lines[:-1]} == {"stack_event", "rollout"}
    assert lines[-1]["type"] == "result" and lines[-1]["ok"] is True
    assert lines[-1]["services"] == [
        {"service": s.service.name, "ok": True, "text": f"{s.tag}, 2/2 running"}
    ]
    s.done()


def test_ctrl_c_before_execution_keeps_the_change_set(story, monkeypatch, capsys):
    """Ctrl-C while the plan is being checked: ExecuteChangeSet was never sent."""
    s = story

    def interrupt(**_):
        raise KeyboardInterrupt

    monkeypatch.setattr(s.sts, "get_caller_identity", interrupt)  # Ctrl-C during this call

    code, _out, err = execute(s, monkeypatch, capsys)

    assert code == 130
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [
        f"interrupted: not started; the change set {s.plan.change_set_name} is kept. Run "
        "execute again when ready"
    ]
    s.done()


def test_ctrl_c_during_the_execute_call_says_the_deployment_goes_on(story, monkeypatch, capsys):
    """SIGINT arrives while ExecuteChangeSet is on the wire: the call completes (the interrupt
    is held), so the command knows the deployment started, and says so."""
    s = story
    s.prelude()
    s.before_execute()
    s.executed()
    real_execute = s.cfn.execute_change_set

    def execute_with_sigint(**kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C now
        return real_execute(**kwargs)

    monkeypatch.setattr(s.cfn, "execute_change_set", execute_with_sigint)

    code, _out, err = execute(s, monkeypatch, capsys)

    assert code == 130
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1] == (
        "stopped following; the deployment goes on in CloudFormation. Follow it again: "
        f"bin/deploy status --env {s.env.name} --watch"
    )
    assert "Traceback" not in err
    s.done()


def test_ctrl_c_while_following_says_the_deployment_goes_on(story, monkeypatch, capsys):
    s = story
    s.prelude()
    s.before_execute()
    s.executed()

    real_describe = s.cfn.describe_stacks

    def interrupt(**kwargs):
        if kwargs["StackName"] == s.root_id:  # following (the plan's check uses the name)
            raise KeyboardInterrupt
        return real_describe(**kwargs)

    monkeypatch.setattr(s.cfn, "describe_stacks", interrupt)

    code, _out, err = execute(s, monkeypatch, capsys)

    assert code == 130
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1] == (
        "stopped following; the deployment goes on in CloudFormation. Follow it again: "
        f"bin/deploy status --env {s.env.name} --watch"
    )
    assert "Traceback" not in err
    s.done()


def test_status_watch_resumes_following_and_gives_the_verdict(story, monkeypatch, capsys):
    """AWS: an update started by an earlier `execute` (its events carry its token) is still in
    progress; `status --watch` finds that operation, follows it and every service's rollout, and
    ends with the verdict: the circuit breaker rolled back a wrong tag."""
    s = story
    pull = f"CannotPullContainerError: {s.service.repository}:0badbad: not found"
    s.stack_status("UPDATE_IN_PROGRESS", name=s.root)
    running = [
        s.nested_event("UPDATE_IN_PROGRESS", at(2)),
        s.event(s.root, "UPDATE_IN_PROGRESS", at(1), reason="User Initiated"),
        *s.old_events,
    ]
    s.stack_events(s.root_id, running)  # which operation, and since when
    s.stack_status("UPDATE_ROLLBACK_COMPLETE")
    s.stack_events(s.root_id, [s.event(s.root, "UPDATE_ROLLBACK_COMPLETE", at(400)), *running])
    s.stack_events(s.nested_id, [s.event(s.nested, "UPDATE_IN_PROGRESS", at(3), stack=s.nested)])
    failed = s.deployment("ecs-svc/new", at(30), "FAILED", failed=3, status="ACTIVE")
    rollback = s.deployment("ecs-svc/rollback", at(280), "COMPLETED", running=2)
    task = s.task(1, at(35), "Task failed to start", pull)
    for service in s.env.services:  # every service is watched; only one has a new deployment
        if service is s.service:
            s.ecs_round([rollback, failed], [], stopped=[task["taskArn"]], new_tasks=[task],
                        record={"status": "ROLLBACK_SUCCESSFUL"})  # fmt: skip
            continue
        steady = s.deployment("ecs-svc/steady", LAST_WEEK, "COMPLETED", running=2)
        name = naming.ecs_service(s.env, service)
        s.ecs.stubber.add_response(
            "describe_services",
            {"services": [{"serviceName": name, "status": "ACTIVE", "deployments": [steady]}]},
            {"cluster": s.cluster, "services": [name]},
        )

    code, out, err = run(monkeypatch, capsys, "status", "--env", s.env.name, "--watch")

    assert code == 1, err
    assert out.splitlines() == [
        f"{s.root}: UPDATE_ROLLBACK_COMPLETE",
        f"{s.service.name}: FAILED: {pull} (the circuit breaker rolled the service back)",
    ]
    assert f"following {s.root} (UPDATE_IN_PROGRESS)" in err
    s.done()


def test_a_deadline_stops_following_not_the_deployment(story, monkeypatch, capsys):
    """AWS: the rollout is still in progress (tasks pending) when the deadline passes."""
    s = story
    s.prelude()
    s.before_execute()
    s.executed()
    s.stack_status("UPDATE_IN_PROGRESS")
    s.stack_events(s.root_id, [s.event(s.root, "UPDATE_IN_PROGRESS", at(1)), *s.old_events])
    s.ecs_round([s.deployment("ecs-svc/new", at(30), "IN_PROGRESS", pending=2)], [])
    # execute's clock: an hour passes during the first round.
    clock = types.SimpleNamespace(monotonic=iter([0.0, 3600.0]).__next__, sleep=time.sleep)
    monkeypatch.setattr("cfn.deploy.execute.time", clock)

    code, out, err = execute(s, monkeypatch, capsys, "--deadline", "30m")

    assert code == 1
    assert out.splitlines() == [f"{s.root}: still in progress"]
    assert err.splitlines()[-1] == (
        "error: stopped following after 30m (--deadline); the deployment goes on: "
        f"bin/deploy status --env {s.env.name} --watch"
    )
    assert "deployment ecs-svc/new IN_PROGRESS: 2 desired, 2 pending, 0 running" in err
    s.done()


def test_no_permission_to_read_ecs_stops_watching_the_rollout_not_the_stack(
    story, monkeypatch, capsys
):
    """AWS: the deploying role may update stacks but not read ECS (AccessDeniedException on
    DescribeServices). The stack is still followed to its end; the rollout is not judged."""
    s = story
    s.prelude()
    s.before_execute()
    s.executed()
    s.stack_status("UPDATE_COMPLETE")
    s.stack_events(
        s.root_id,
        [
            s.event(s.root, "UPDATE_COMPLETE", at(300)),
            s.event(s.root, "UPDATE_IN_PROGRESS", at(1)),
            *s.old_events,
        ],
    )
    s.ecs.stubber.add_client_error(
        "describe_services",
        "AccessDeniedException",
        "not authorized to perform: ecs:DescribeServices",
    )

    code, out, err = execute(s, monkeypatch, capsys)

    assert code == 0, err
    assert out.splitlines() == [f"{s.root}: UPDATE_COMPLETE"]
    assert (
        f"  {s.service.name}: rollout not watched: access denied to DescribeServices: not "
        "authorized to perform: ecs:DescribeServices"
    ) in err.splitlines()
    s.done()


def test_losing_aws_while_following_says_the_deployment_goes_on(story, monkeypatch, capsys):
    """AWS: after ExecuteChangeSet was accepted, DescribeStacks keeps failing (credentials
    expired mid-deployment). The error says the deployment goes on and how to follow it."""
    s = story
    s.prelude()
    s.before_execute()
    s.executed()
    s.cfn.stubber.add_client_error("describe_stacks", "ExpiredToken", "The security token expired")

    code, _out, err = execute(s, monkeypatch, capsys)

    assert code == 1
    assert err.splitlines()[-2:] == [
        "error: stopped following: your AWS credentials have expired: refresh them (e.g. aws sso "
        "login); the deployment goes on in CloudFormation",
        f"  follow it again: bin/deploy status --env {s.env.name} --watch",
    ]
    s.done()
