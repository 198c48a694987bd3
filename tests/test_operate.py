"""Operating an environment with bin/deploy, end to end against the local AWS: secret, status,
services, logs, cleanup and destroy (the server and helpers come from test_deploy_e2e)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from cfn import config, naming
from cfn.cli import operate
from cfn.deploy import logs as logs_mod
from tests import test_deploy_e2e as e2e
from tests.conftest import BIN, PROJECT_ROOT
from tests.test_deploy_e2e import client, deploy

# The local AWS, fresh for each test (the fixtures of test_deploy_e2e).
aws = e2e.aws
fresh_aws = e2e.fresh_aws
real_domain = e2e.real_domain


@pytest.fixture(autouse=True)
def images(aws, fresh_aws):
    """Every image tag these tests deploy, in ECR: plan checks them before anything else."""
    e2e.push_images(aws, tags=("1a2b3c4", "2b3c4d5", "9f8e7d6"))


VALUE = "sk-live-never-print-me-4711"
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
TASK_ID = "0123456789abcdef0123456789abcdef"


def tag_args(env, tag: str = "1a2b3c4") -> list[str]:
    return [a for s in env.services for a in ("--image-tag", f"{s.name}={tag}")]


def declared_secrets(env) -> list[tuple[str, str]]:
    return [(s.name, v) for s in env.services for v in s.secrets]


def set_secrets(aws, env, value: str = VALUE) -> list:
    results = []
    for service, variable in declared_secrets(env):
        r = deploy(aws, "secret", "set", "--env", env.name, service, variable, input=value + "\n")
        assert r.exit_code == 0, r.output
        results.append(r)
    return results


def deployed(aws, env, tmp_path, tag: str = "1a2b3c4"):
    """Bootstrap, set the secrets, plan and execute `env`; return every command's result."""
    results = [deploy(aws, "bootstrap", "--env", env.name), *set_secrets(aws, env)]
    e2e.create_zone(config.load(aws.config).env(env.name))
    plan_file = tmp_path / f"{env.name}.json"
    results.append(
        deploy(aws, "plan", "--env", env.name, *tag_args(env, tag), "--plan-out", str(plan_file))
    )
    assert results[-1].exit_code == 2, results[-1].output
    results.append(deploy(aws, "execute", str(plan_file), "--env", env.name, "--yes"))
    assert results[-1].exit_code == 0, results[-1].output
    return results


def put_logs(aws, env, service, messages: list[tuple[int, str]], task: str = TASK_ID) -> None:
    logs = client(aws, "logs")
    group, stream = naming.log_group(env, service), f"ecs/{service.name}/{task}"
    if not logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream)["logStreams"]:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": ts, "message": m} for ts, m in messages],
    )


def log_group_of(aws, env, service) -> None:
    """The service's log group, as its stack creates it (for the logs tests, no deploy)."""
    client(aws, "logs").create_log_group(logGroupName=naming.log_group(env, service))


def now_ms() -> int:
    return int(time.time() * 1000)


# -- the whole flow ------------------------------------------------------------------------


def test_a_new_user_operates_an_environment_one_command_each(aws, platform, tmp_path):
    env = platform.env("dev")
    outputs = deployed(aws, env, tmp_path)
    service = env.services[0]

    r = deploy(aws, "services", "--env", "dev")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].split()[:4] == ["SERVICE", "TAG", "TASKS", "d/r/p"]
    for s in env.services:
        (line,) = [x for x in lines if x.startswith(s.name + " ")]
        assert "1a2b3c4" in line and "COMPLETED" in line
        assert naming.discovery_host(env, s) in line and s.path_patterns[0] in line

    r = deploy(aws, "status", "--env", "dev")
    assert r.exit_code == 0
    assert "image tags: " + ", ".join(f"{s.name}=1a2b3c4" for s in env.services) in r.stdout

    put_logs(aws, env, service, [(now_ms() - 2000, "started"), (now_ms(), "GET /health 200")])
    r = deploy(aws, "logs", "--env", "dev", service.name)
    assert r.exit_code == 0
    assert re.fullmatch(
        rf"{ISO[:-1]}\.\d{{3}}Z  {TASK_ID}  started\n{ISO[:-1]}\.\d{{3}}Z  {TASK_ID}  "
        r"GET /health 200\n",
        r.stdout,
    ), r.stdout

    deploy(aws, "plan", "--env", "dev", *tag_args(env, "2b3c4d5"), "--plan-out", "x.json")
    r = deploy(aws, "cleanup", "--env", "dev", "--older-than", "0s")
    assert r.exit_code == 0 and "deleted 1 change set(s) of insightxi-dev" in r.stdout

    r = deploy(aws, "destroy", "--env", "dev", "--yes")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().endswith("insightxi-dev: DELETE_COMPLETE")
    outputs.append(r)
    for result in outputs:
        assert VALUE not in result.output
    assert deploy(aws, "status", "--env", "dev").exit_code == 1


# -- secrets -------------------------------------------------------------------------------


def test_secret_set_stores_tags_and_never_prints_the_value(aws, platform):
    env = platform.env("staging")
    service, variable = declared_secrets(env)[0]
    name = naming.secret(env, env.service(service), variable)
    sm = client(aws, "secretsmanager")

    r = deploy(aws, "secret", "set", "--env", "staging", service, variable, input=VALUE + "\n")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == f"{name}: created"
    assert f"read by: {service} (as {variable})" in r.stdout
    assert sm.get_secret_value(SecretId=name)["SecretString"] == VALUE  # the newline is not
    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=name)["Tags"]}
    assert tags == naming.tag_dict(env, env.service(service))

    r = deploy(
        aws, "secret", "set", "--env", "staging", service, variable, "--output", "json",
        input="second-" + VALUE,
    )  # fmt: skip
    assert json.loads(r.stdout) == {"name": name, "created": False, "read_by": [service]}
    assert sm.get_secret_value(SecretId=name)["SecretString"] == "second-" + VALUE
    assert VALUE not in r.output

    r = deploy(aws, "secret", "list", "--env", "staging")
    assert r.exit_code == 0
    assert re.search(rf"^{re.escape(name)}\s+set, last changed {ISO}$", r.stdout, re.M)
    assert VALUE not in r.output


def test_secret_set_refuses_undeclared_names_and_empty_values(aws, platform):
    env = platform.env("dev")
    service, _variable = declared_secrets(env)[0]
    declared = ", ".join(env.service(service).secrets)
    r = deploy(aws, "secret", "set", "--env", "dev", service, "NOT_DECLARED", input="x\n")
    assert r.exit_code == 1
    assert f"{service} does not declare a secret 'NOT_DECLARED' (declared: {declared})" in r.stderr
    r = deploy(aws, "secret", "set", "--env", "dev", "billing", "X", input="x\n")
    assert r.exit_code == 1 and "unknown service 'billing'" in r.stderr
    r = deploy(aws, "secret", "set", "--env", "dev", service, _variable, input="\n")
    assert r.exit_code == 1 and "the value is empty" in r.stderr
    assert client(aws, "secretsmanager").list_secrets()["SecretList"] == []


def test_secret_list_names_the_missing_ones_and_plan_says_how_to_set_them(aws, platform):
    env = platform.env("dev")
    r = deploy(aws, "secret", "list", "--env", "dev")
    assert r.exit_code == 1
    for service, variable in declared_secrets(env):
        name = naming.secret(env, env.service(service), variable)
        assert re.search(rf"^{re.escape(name)}\s+MISSING$", r.stdout, re.M)
        assert f"bin/deploy secret set --env dev {service} {variable}" in r.stdout
    assert deploy(aws, "bootstrap", "--env", "dev").exit_code == 0
    r = deploy(aws, "plan", "--env", "dev", *tag_args(env))
    assert r.exit_code == 1
    for service, variable in declared_secrets(env):
        assert f"bin/deploy secret set --env dev {service} {variable}" in r.stderr


def test_secret_set_reads_a_hidden_prompt_at_a_terminal(aws, platform, monkeypatch):
    env = platform.env("dev")
    service, variable = declared_secrets(env)[0]
    monkeypatch.setattr(operate, "_interactive", lambda: True)
    # click's hidden prompt reads twice (confirmation); CliRunner feeds it without echo.
    r = deploy(aws, "secret", "set", "--env", "dev", service, variable, input=f"{VALUE}\n{VALUE}\n")
    assert r.exit_code == 0, r.output
    assert "Repeat for confirmation" in r.stderr
    assert VALUE not in r.output
    name = naming.secret(env, env.service(service), variable)
    assert client(aws, "secretsmanager").get_secret_value(SecretId=name)["SecretString"] == VALUE


# -- status --------------------------------------------------------------------------------


def test_status_review_in_progress_is_not_deployed_yet(aws, platform):
    env = platform.env("dev")
    deploy(aws, "bootstrap", "--env", "dev")
    set_secrets(aws, env)
    assert deploy(aws, "plan", "--env", "dev", *tag_args(env)).exit_code == 2
    r = deploy(aws, "status", "--env", "dev")
    assert r.exit_code == 1
    assert "stack insightxi-dev: not deployed yet (REVIEW_IN_PROGRESS" in r.stdout
    assert "change sets waiting (1):" in r.stdout
    data = json.loads(deploy(aws, "status", "--env", "dev", "--output", "json").stdout)
    assert (data["exists"], data["deployed"], data["image_tags"]) == (True, False, {})


def test_status_shows_update_time_tags_protection_policy_and_only_its_change_sets(
    aws, platform, tmp_path
):
    dev, staging = platform.env("dev"), platform.env("staging")
    deployed(aws, dev, tmp_path)
    first = json.loads(deploy(aws, "status", "--env", "dev", "--output", "json").stdout)
    assert re.fullmatch(ISO, first["last_updated"])
    time.sleep(1.1)  # the update must be at a later second than the creation
    plan = tmp_path / "second.json"
    tags = ["--image-tag", f"{dev.services[0].name}=9f8e7d6"]
    deploy(aws, "plan", "--env", "dev", *tags, "--plan-out", str(plan))
    assert deploy(aws, "execute", str(plan), "--env", "dev").exit_code == 0
    # Another environment's change set must not show up in dev's status.
    deploy(aws, "bootstrap", "--env", "staging")
    set_secrets(aws, staging)
    assert deploy(aws, "plan", "--env", "staging", *tag_args(staging)).exit_code == 2
    cfn = client(aws, "cloudformation")
    cfn.update_termination_protection(StackName="insightxi-dev", EnableTerminationProtection=True)
    policy = {"Statement": [{"Effect": "Deny", "Action": "Update:Replace", "Principal": "*",
                             "Resource": "*"}]}  # fmt: skip
    cfn.set_stack_policy(StackName="insightxi-dev", StackPolicyBody=json.dumps(policy))

    r = deploy(aws, "status", "--env", "dev", "--output", "json")
    data = json.loads(r.stdout)
    stack = cfn.describe_stacks(StackName="insightxi-dev")["Stacks"][0]
    assert data["last_updated"] == stack["LastUpdatedTime"].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert data["last_updated"] > first["last_updated"]
    expected = {s.name: "1a2b3c4" for s in dev.services} | {dev.services[0].name: "9f8e7d6"}
    assert data["image_tags"] == expected
    assert data["termination_protection"] is True
    assert data["stack_policy"] == "set (1 statement(s), 1 deny)"
    assert data["pending_change_sets"] == []
    text = deploy(aws, "status", "--env", "dev").stdout
    assert f"last change {data['last_updated']})" in text
    assert "termination protection: on; stack policy: set (1 statement(s), 1 deny)" in text
    r = deploy(aws, "status", "--all")
    assert r.exit_code == 1  # not every environment is deployed
    lines = r.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["ENV", *platform.environments]
    assert re.match(
        rf"dev\s+UPDATE_COMPLETE\s+{ISO}\s+0\s+yes\s+1a2b3c4 \({dev.services[0].name} 9f8e7d6\)"
        r"\s+http://",
        lines[1],
    ), lines[1]
    assert re.match(r"staging\s+not deployed yet \(REVIEW_IN_PROGRESS\)\s+", lines[2])
    assert all("not created" in line for line in lines[3:])
    r = deploy(aws, "services", "--all")
    assert r.exit_code == 1
    rows = r.stdout.splitlines()[1:]
    assert len(rows) == sum(len(e.services) for e in platform.environments.values())
    assert all("not deployed" in row for row in rows if not row.startswith("dev "))
    r = deploy(aws, "status", "--all", "--env", "dev")
    assert r.exit_code != 0 and "give either --env NAME or --all" in r.output
    # What ECS runs follows: a new task definition revision for that service only.
    running = json.loads(deploy(aws, "services", "--env", "dev", "--output", "json").stdout)
    assert {s["service"]: s["image_tag"] for s in running["services"]} == expected


# -- services ------------------------------------------------------------------------------


def test_services_show_tasks_rollout_and_target_health(aws, platform, tmp_path, monkeypatch):
    env = platform.env("dev")
    deployed(aws, env, tmp_path)
    first, second = env.services[0], env.services[1]
    # moto runs no tasks and never fails a rollout: set what ECS would report.
    ecs = aws.backend("ecs")
    for svc in ecs.services.values():
        if svc.name == naming.ecs_service(env, first):
            svc.desired_count, svc.running_count, svc.pending_count = 3, 2, 1
        if svc.name == naming.ecs_service(env, second):
            svc.deployments[0]["rolloutState"] = "FAILED"
            svc.deployments[0]["rolloutStateReason"] = (
                "ECS deployment circuit breaker: tasks failed"
            )
    elbv2 = client(aws, "elbv2")
    for s, ips in ((first, ["10.10.16.5", "10.10.32.6"]), (second, ["10.10.16.7"])):
        arn = elbv2.describe_target_groups(Names=[naming.target_group(env, s)])["TargetGroups"][0][
            "TargetGroupArn"
        ]
        elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": ip} for ip in ips])
    # moto reports every registered target healthy; make one fail its health check.
    from moto.elbv2 import models as elb_models

    original = elb_models.FakeTargetGroup.health_for

    def health_for(self, target, ec2_backend):
        status = original(self, target, ec2_backend)
        if target["Id"] == "10.10.16.7":
            status.status, status.reason = "unhealthy", "Target.FailedHealthChecks"
        return status

    monkeypatch.setattr(elb_models.FakeTargetGroup, "health_for", health_for)

    r = deploy(aws, "services", "--env", "dev")
    assert r.exit_code == 1  # a failed rollout and an unhealthy target
    (line1,) = [x for x in r.stdout.splitlines() if x.startswith(first.name + " ")]
    assert re.search(r"1a2b3c4\s+3/2/1\s+COMPLETED\s+2 healthy, 0 unhealthy", line1)
    (line2,) = [x for x in r.stdout.splitlines() if x.startswith(second.name + " ")]
    assert re.search(r"FAILED\s+0 healthy, 1 unhealthy", line2)
    assert f"dev/{second.name}: rollout failed: ECS deployment circuit breaker" in r.stdout
    data = json.loads(deploy(aws, "services", "--env", "dev", "--output", "json").stdout)
    by_name = {s["service"]: s for s in data["services"]}
    assert (by_name[first.name]["healthy"], by_name[second.name]["unhealthy"]) == (2, 1)
    assert by_name[first.name]["image_tag"] == "1a2b3c4"


# -- logs ----------------------------------------------------------------------------------


def test_logs_since_filter_and_json(aws, platform, tmp_path):
    env = platform.env("dev")
    service = env.services[-1]
    log_group_of(aws, env, service)
    t = now_ms()
    put_logs(aws, env, service, [(t - 3 * 3600_000, "old line"), (t - 60_000, "ERROR boom")])
    put_logs(aws, env, service, [(t - 30_000, "later from another task")], task="f" * 32)
    r = deploy(aws, "logs", "--env", "dev", service.name)
    assert [line.split("  ", 2)[1:] for line in r.stdout.splitlines()] == [
        [TASK_ID, "ERROR boom"],
        ["f" * 32, "later from another task"],
    ]
    r = deploy(aws, "logs", "--env", "dev", service.name, "--since", "4h", "--filter", "ERROR")
    assert r.stdout.count("\n") == 1 and "ERROR boom" in r.stdout
    r = deploy(aws, "logs", "--env", "dev", service.name, "--since", "1d", "--output", "json")
    first = json.loads(r.stdout.splitlines()[0])
    assert (first["message"], first["task_id"], first["timestamp"]) == (
        "old line",
        TASK_ID,
        t - 3 * 3600_000,
    )
    r = deploy(aws, "logs", "--env", "dev", service.name, "--since", "ten minutes")
    assert r.exit_code == 1 and "--since 'ten minutes' is not a duration" in r.stderr
    r = deploy(aws, "logs", "--env", "dev", "billing")
    assert r.exit_code == 1 and "unknown service 'billing' in dev" in r.stderr
    r = deploy(aws, "logs", "--env", "staging", service.name)
    assert r.exit_code == 1
    assert f"log group {naming.log_group(platform.env('staging'), service)} does not exist" in (
        r.stderr
    )


def test_logs_follow_prints_new_lines_and_ctrl_c_ends_it(aws, platform, tmp_path):
    env = platform.env("dev")
    service = env.services[0]
    log_group_of(aws, env, service)
    put_logs(aws, env, service, [(now_ms(), "before following")])
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    command = [sys.executable, str(BIN / "deploy"), "logs", "--env", "dev", service.name]
    proc = subprocess.Popen(
        [*command, "--follow", "--endpoint-url", aws.endpoint, "--config", str(aws.config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
        env=environ,
    )
    try:
        assert "before following" in proc.stdout.readline()
        put_logs(aws, env, service, [(now_ms(), "while following")])
        assert "while following" in proc.stdout.readline()  # within a poll interval
        proc.send_signal(signal.SIGINT)
        out, errors = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, errors
    assert out == ""  # nothing printed twice
    assert errors.strip().splitlines()[-1] == "stopped following"
    assert "live tail not available" not in errors  # the local AWS has live tail
    assert "Traceback" not in errors


def test_follow_falls_back_to_polling_without_live_tail(aws, platform, tmp_path):
    from botocore.awsrequest import AWSResponse

    from cfn.deploy.aws import make_clients

    env = platform.env("dev")
    service = env.services[0]
    log_group_of(aws, env, service)
    logs = make_clients("eu-west-1", endpoint_url=aws.endpoint).logs
    body = b'{"__type":"AccessDeniedException","message":"not authorized to StartLiveTail"}'

    class Raw:
        def stream(self, **_):
            yield body

    # AWS's answer to a role without logs:StartLiveTail.
    logs.meta.events.register(
        "before-send.logs.StartLiveTail",
        lambda request, **_: AWSResponse(request.url, 400, {}, Raw()),
    )
    group = naming.log_group(env, service)
    arn = logs_mod.log_group_arn(logs, env, service)
    printed, progress, naps = [], [], []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 1:
            put_logs(aws, env, service, [(now_ms(), "new line")])
            return
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        logs_mod.follow(
            logs, group=group, arn=arn, start_ms=now_ms() - 60_000, pattern=None, already=[],
            on_line=lambda line: printed.append(line.message), progress=progress.append,
            sleep=sleep,
        )  # fmt: skip
    assert progress == ["live tail not available (AccessDeniedException): polling every 2 s"]
    assert printed == ["new line"]
    assert naps == [logs_mod.POLL_SECONDS, logs_mod.POLL_SECONDS]


# -- change-set hygiene --------------------------------------------------------------------


def test_cleanup_deletes_only_this_environments_old_change_sets(aws, platform, tmp_path):
    dev, staging = platform.env("dev"), platform.env("staging")
    deployed(aws, dev, tmp_path)
    stale = tmp_path / "stale.json"
    deploy(aws, "plan", "--env", "dev", *tag_args(dev, "2b3c4d5"), "--plan-out", str(stale))
    deploy(aws, "bootstrap", "--env", "staging")
    set_secrets(aws, staging)
    assert deploy(aws, "plan", "--env", "staging", *tag_args(staging)).exit_code == 2

    r = deploy(aws, "cleanup", "--env", "dev")
    assert r.exit_code == 0
    assert r.stdout.startswith("deleted 0 change set(s) of insightxi-dev older than 7d")
    assert "kept 1 newer one(s):" in r.stdout
    r = deploy(aws, "cleanup", "--env", "dev", "--older-than", "0s", "--output", "json")
    data = json.loads(r.stdout)
    assert [c["name"] for c in data["deleted"]] == [
        json.loads(stale.read_text())["change_set_name"]
    ]
    assert "no change set waiting" in deploy(aws, "status", "--env", "dev").stdout
    assert "change sets waiting (1):" in deploy(aws, "status", "--env", "staging").stdout
    r = deploy(aws, "execute", str(stale), "--env", "dev")
    assert r.exit_code == 1 and "plan again" in r.stderr
    r = deploy(aws, "cleanup", "--env", "dev", "--older-than", "soon")
    assert r.exit_code == 1 and "use a number and a unit" in r.stderr


# -- destroy -------------------------------------------------------------------------------


def test_destroy_reviews_then_refuses_without_a_terminal_asks_at_one(
    aws, platform, tmp_path, monkeypatch
):
    env = platform.env("dev")
    deployed(aws, env, tmp_path)
    r = deploy(aws, "destroy", "--env", "dev")
    assert r.exit_code == 1
    assert r.stdout.startswith("Destroy insightxi-dev (dev, eu-west-1): CREATE_COMPLETE")
    nested = 3 + len(env.services)
    assert f"Deleted: the stack, {nested} nested stack(s)," in r.stdout
    bucket = f"insightxi-dev-artifacts-123456789012-{env.region}"
    assert f"= stack insightxi-dev-bootstrap and its artifacts bucket {bucket}" in r.stdout
    assert "= the secrets insightxi/dev/* in Secrets Manager" in r.stdout
    assert "there is no terminal to confirm the destruction of dev in" in r.stderr
    cfn = client(aws, "cloudformation")
    assert cfn.describe_stacks(StackName="insightxi-dev")["Stacks"][0]["StackStatus"] == (
        "CREATE_COMPLETE"
    )

    # At a terminal, an unprotected environment asks y/n.
    monkeypatch.setattr(operate, "_interactive", lambda: True)
    r = deploy(aws, "destroy", "--env", "dev", input="n\n")
    assert r.exit_code == 1 and "nothing deleted" in r.stderr
    r = deploy(aws, "destroy", "--env", "dev", "--output", "json", input="y\n")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["final_status"] == "DELETE_COMPLETE" and data["kept"] == []
    assert "DELETE_COMPLETE" in r.stderr and "Destroy insightxi-dev" in r.stderr
    assert [s["StackName"] for s in cfn.describe_stacks()["Stacks"]] == ["insightxi-dev-bootstrap"]
    r = deploy(aws, "destroy", "--env", "dev", "--yes")
    assert r.exit_code == 0 and "nothing to destroy" in r.stdout


def test_destroy_a_protected_environment(aws, platform, tmp_path, monkeypatch, real_domain):
    env = platform.env("prod")
    assert env.protected and env.alb_deletion_protection and env.retain_stateful_resources
    deployed(aws, env, tmp_path)
    cfn = client(aws, "cloudformation")
    cfn.update_termination_protection(StackName="insightxi-prod", EnableTerminationProtection=True)

    # The ALB's deletion protection would stop the deletion halfway: refused before it starts.
    r = deploy(aws, "destroy", "--env", "prod", "--yes", "--confirm-env", "prod")
    assert r.exit_code == 1
    assert "1 resource(s) of insightxi-prod cannot be deleted as they are" in r.stderr
    assert "Blocked: Edge/LoadBalancer has deletion protection; lift it: " in r.stdout
    for s in env.services:  # retained by DeletionPolicy, read from the deployed templates
        assert re.search(
            rf"= {naming.service_stack_id(s)}/LogGroup\s+AWS::Logs::LogGroup\s+"
            rf"{re.escape(naming.log_group(env, s))}\s+\(DeletionPolicy Retain\)",
            r.stdout,
        ), r.stdout
    assert re.search(r"= Cluster/Namespace\s+AWS::ServiceDiscovery::PrivateDnsNamespace", r.stdout)
    fix = re.search(r"lift it: (aws elbv2 modify-load-balancer-attributes .*)", r.stdout)
    assert fix and fix.group(1).endswith("Key=deletion_protection.enabled,Value=false")
    arn = fix.group(1).split("--load-balancer-arn ")[1].split()[0]
    client(aws, "elbv2").modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}]
    )

    r = deploy(aws, "destroy", "--env", "prod", "--yes", "--confirm-env", "prod")
    assert r.exit_code == 1 and "has termination protection: nothing was deleted" in r.stderr
    assert "--lift-termination-protection" in r.stderr
    r = deploy(aws, "destroy", "--env", "prod", "--yes", "--lift-termination-protection")
    assert r.exit_code == 1 and "pass --confirm-env prod as well" in r.stderr
    # At a terminal: the name must be typed.
    monkeypatch.setattr(operate, "_interactive", lambda: True)
    r = deploy(aws, "destroy", "--env", "prod", "--lift-termination-protection", input="dev\n")
    assert r.exit_code == 1 and "'dev' is not 'prod': nothing deleted" in r.stderr
    stack = cfn.describe_stacks(StackName="insightxi-prod")["Stacks"][0]
    assert (stack["StackStatus"], stack["EnableTerminationProtection"]) == ("CREATE_COMPLETE", True)

    r = deploy(aws, "destroy", "--env", "prod", "--lift-termination-protection", input="prod\n")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().endswith("insightxi-prod: DELETE_COMPLETE")
    groups = {g["logGroupName"] for g in client(aws, "logs").describe_log_groups()["logGroups"]}
    assert {naming.log_group(env, s) for s in env.services} <= groups  # kept


def test_a_failed_deletion_lists_each_resource_why_and_what_resolves_it(
    aws, platform, tmp_path, monkeypatch
):
    env = platform.env("dev")
    deployed(aws, env, tmp_path)
    service = env.services[0]
    # Stands for AWS refusing a log group's deletion while another operation runs on it.
    from moto.logs import models as logs_models

    original = logs_models.LogsBackend.delete_log_group
    reason = "A conflicting operation is currently in progress against this resource."

    def refuse(self, name):
        if name == naming.log_group(env, service):
            raise RuntimeError(reason)
        return original(self, name)

    monkeypatch.setattr(logs_models.LogsBackend, "delete_log_group", refuse)
    r = deploy(aws, "destroy", "--env", "dev", "--yes")
    assert r.exit_code == 1
    assert "the deletion of insightxi-dev failed: 1 resource(s) could not be deleted" in r.stderr
    stack_id = naming.service_stack_id(service)
    assert re.search(
        rf"insightxi-dev-{stack_id}-\w+ LogGroup \(AWS::Logs::LogGroup\): {re.escape(reason)}",
        r.stderr,
    )
    assert re.search(
        rf"aws cloudformation delete-stack --region {env.region} --stack-name "
        rf"insightxi-dev-{stack_id}-\w+ --retain-resources LogGroup",
        r.stderr,
    )
    assert "then run bin/deploy destroy --env dev again" in r.stderr
    assert "Traceback" not in r.output
    cfn = client(aws, "cloudformation")
    assert cfn.describe_stacks(StackName="insightxi-dev")["Stacks"][0]["StackStatus"] == (
        "DELETE_FAILED"
    )

    monkeypatch.setattr(logs_models.LogsBackend, "delete_log_group", original)
    r = deploy(aws, "destroy", "--env", "dev", "--yes")
    assert r.exit_code == 0, r.output
    assert "Destroy insightxi-dev (dev, eu-west-1): DELETE_FAILED" in r.stdout
    assert r.stdout.strip().endswith("insightxi-dev: DELETE_COMPLETE")


def test_readme_covers_the_operating_commands():
    readme = (PROJECT_ROOT / "README.md").read_text()
    for command in ("destroy", "services", "logs", "secret set", "secret list", "cleanup"):
        assert f"bin/deploy {command}" in readme, command
    assert "status --all" in readme and "services --all" in readme
