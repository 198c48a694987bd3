"""bin/deploy end to end against a local AWS: moto's server on 127.0.0.1, real boto3 over HTTP,
dummy credentials (see cfn/localaws.py for what the harness teaches moto)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from cfn import cli, config, naming, policies, render
from cfn.config_safety import example_values
from cfn.deploy import plan as plan_mod
from cfn.deploy.aws import make_clients
from cfn.deploy.errors import DeployError
from cfn.localaws import hosted_zone, local_aws
from tests.conftest import BIN, PROJECT_ROOT, TEMPLATES

SECRET_VALUE = "sk-test-do-not-print-0123456789"
SERVICES = config.load().env("dev").services
FIRST = SERVICES[0]
ALL_TAGS = [arg for s in SERVICES for arg in ("--image-tag", f"{s.name}=1a2b3c4")]
# Every tag a test deploys: pushed to every service's repository by `ready`.
PUSHED_TAGS = ("1a2b3c4", "9f8e7d6", "aaaaaaa", "bbbbbbb", "5d6e7f8")


@pytest.fixture(scope="session")
def aws(moto_config):
    """The local AWS; `aws.config` is the configuration every command runs with: the project's,
    with each environment in moto's account (every command checks the account first)."""
    with local_aws() as server:
        server.config = moto_config
        yield server


@pytest.fixture(autouse=True)
def fresh_aws(aws, monkeypatch, tmp_path):
    """Each test starts from an empty account, with dummy credentials and no local AWS config."""
    aws.reset()
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.chdir(tmp_path)


def local_args(aws) -> list[str]:
    """The options that point a command at the local AWS and its configuration."""
    return ["--endpoint-url", aws.endpoint, "--config", str(aws.config)]


def deploy(aws, *args: str, input: str | None = None):
    result = CliRunner().invoke(cli.deploy, [*args, *local_args(aws)], input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def client(aws, name: str):
    return boto3.client(name, endpoint_url=aws.endpoint, region_name="eu-west-1")


def create_secrets(aws, env: str = "dev") -> None:
    environment = config.load().env(env)
    for service in environment.services:
        for variable in service.secrets:
            client(aws, "secretsmanager").create_secret(
                Name=naming.secret(environment, service, variable), SecretString=SECRET_VALUE
            )


def push_images(aws, tags=PUSHED_TAGS, services=SERVICES) -> None:
    """A fake image per tag in each service's ECR repository (ECR takes any manifest)."""
    ecr = client(aws, "ecr")
    for service in services:
        with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
            ecr.create_repository(repositoryName=service.repository)
        for tag in tags:
            manifest = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"digest": f"sha256:{tag * 4}"},
            }
            ecr.put_image(
                repositoryName=service.repository,
                imageManifest=json.dumps(manifest),
                imageTag=tag,
            )


def ready(aws, env: str = "dev") -> None:
    assert deploy(aws, "bootstrap", "--env", env).exit_code == 0
    create_secrets(aws, env)
    push_images(aws)
    create_zone(config.load(aws.config).env(env))


def create_zone(env: config.Environment) -> None:
    """An environment with a domain names its Route 53 zone: it must exist in the account."""
    if env.hosted_zone_id:
        hosted_zone(env.hosted_zone_id, env.domain_name)


def test_bootstrap_creates_the_artifacts_bucket_and_is_idempotent(aws):
    first = deploy(aws, "bootstrap", "--env", "dev")
    assert first.exit_code == 0, first.output
    bucket = "insightxi-dev-artifacts-123456789012-eu-west-1"
    assert f"artifacts bucket: {bucket}" in first.stdout
    assert "created or updated" in first.stdout
    # moto creates the bucket but applies none of its properties: those are asserted on the
    # template (tests/test_platform.py), here only that it exists.
    client(aws, "s3").head_bucket(Bucket=bucket)

    second = deploy(aws, "bootstrap", "--env", "dev", "--output", "json")
    assert second.exit_code == 0
    assert json.loads(second.stdout) == {
        "stack": "insightxi-dev-bootstrap",
        "bucket": bucket,
        "changed": False,
        "status": "CREATE_COMPLETE",
        "boundary": "arn:aws:iam::123456789012:policy/"
        + policies.boundary_policy_name(config.load(aws.config).env("dev")),
    }


def test_plan_execute_plan_again_and_a_new_image_tag(aws, tmp_path):
    ready(aws)
    plan_file = tmp_path / "dev.plan.json"
    summary = tmp_path / "review.md"

    # 1. A new environment: every nested stack is added; exit 2, a change set to review.
    r = deploy(
        aws,
        "plan",
        "--env",
        "dev",
        *ALL_TAGS,
        "--plan-out",
        str(plan_file),
        "--summary-md",
        str(summary),
    )
    assert r.exit_code == 2, r.output
    assert "(CREATE) for stack insightxi-dev in eu-west-1" in r.stdout
    nested = [naming.NETWORK, naming.EDGE, naming.CLUSTER]
    nested += [naming.service_stack_id(s) for s in SERVICES]
    for stack in nested:
        assert f"+ Add     {stack} " in r.stdout
    # Everything in the root: the nested stacks and the composite rollback alarm(s).
    root = json.loads((TEMPLATES / "dev" / naming.ROOT_TEMPLATE).read_text())
    added = len(root["Resources"])
    assert f"Summary: {added} to add, 0 to modify (0 replaced), 0 to remove" in r.stdout
    assert (
        "console.aws.amazon.com/cloudformation/home?region=eu-west-1#/stacks/changesets" in r.stdout
    )
    assert f"Plan file: {plan_file}" in r.stdout
    assert "| (root) | Add | `Network` |" in summary.read_text()
    plan = json.loads(plan_file.read_text())
    assert (plan["environment"], plan["account"], plan["region"], plan["stack"]) == (
        "dev",
        "123456789012",
        "eu-west-1",
        "insightxi-dev",
    )
    assert plan["parameters"][naming.image_tag_parameter(FIRST)] == {"value": "1a2b3c4"}
    assert set(plan["templates"]) == {naming.ROOT_TEMPLATE} | {
        naming.template_file(logical) for logical in nested
    }
    for name, t in plan["templates"].items():
        assert t["key"] == f"insightxi/dev/{t['sha256']}/{name}"
        body = client(aws, "s3").get_object(Bucket=plan["artifacts_bucket"], Key=t["key"])["Body"]
        assert body.read() == (TEMPLATES / "dev" / name).read_bytes()
    assert SECRET_VALUE not in plan_file.read_text() + r.output

    # 2. Execute exactly that change set.
    r = deploy(aws, "execute", str(plan_file), "--env", "dev")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == ["insightxi-dev: CREATE_COMPLETE"] + [
        f"{s.name}: rolled out: 1a2b3c4, 1/1 running" for s in SERVICES
    ]
    assert "CREATE_COMPLETE" in r.stderr  # the followed events
    for s in SERVICES:  # each service's rollout, as it went
        assert f"  {s.name}: deployment ecs-svc/" in r.stderr

    # 3. Status shows the URL and nothing pending.
    r = deploy(aws, "status", "--env", "dev")
    assert r.exit_code == 0
    assert "stack insightxi-dev: CREATE_COMPLETE" in r.stdout
    assert "URL: http://insightxi-dev-alb" in r.stdout
    assert "no change set waiting" in r.stdout

    # 4. Plan again with nothing changed: exit 0, and no empty change set is left behind.
    r = deploy(aws, "plan", "--env", "dev", "--plan-out", str(tmp_path / "again.json"))
    assert r.exit_code == 0, r.output
    assert "no changes" in r.stdout
    assert f"0 uploaded, {len(nested) + 1} already in" in r.stderr  # the nested and the root
    cfn = client(aws, "cloudformation")
    assert cfn.list_change_sets(StackName="insightxi-dev")["Summaries"] == [] or all(
        s["ExecutionStatus"] != "AVAILABLE"
        for s in cfn.list_change_sets(StackName="insightxi-dev")["Summaries"]
    )

    # 5. A new image for one service: only that service's stack changes; others keep theirs.
    new_plan = tmp_path / "tag.json"
    r = deploy(
        aws,
        "plan",
        "--env",
        "dev",
        "--image-tag",
        f"{FIRST.name}=9f8e7d6",
        "--plan-out",
        str(new_plan),
        "--output",
        "json",
    )
    assert r.exit_code == 2, r.output
    review = json.loads(r.stdout)
    assert [(c["action"], c["logical_id"]) for c in review["changes"]] == [
        ("Modify", naming.service_stack_id(FIRST))
    ]
    params = json.loads(new_plan.read_text())["parameters"]
    assert params[naming.image_tag_parameter(FIRST)] == {"value": "9f8e7d6"}
    for other in SERVICES[1:]:
        assert params[naming.image_tag_parameter(other)] == {"value": "1a2b3c4", "previous": True}

    # 6. Execute it: only that service rolls out, on a new task definition with the new tag.
    r = deploy(aws, "execute", str(new_plan), "--env", "dev")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [
        "insightxi-dev: UPDATE_COMPLETE",
        f"{FIRST.name}: rolled out: 9f8e7d6, 1/1 running",
    ]
    assert "CREATE_COMPLETE" not in r.stderr  # the first deployment's events are not replayed


def test_plan_without_image_tags_on_a_new_stack_lists_them(aws):
    ready(aws)
    r = deploy(aws, "plan", "--env", "dev")
    assert r.exit_code == 1
    names = ", ".join(s.name for s in SERVICES)
    assert f"an image tag is required for {names}: the stack does not exist yet" in r.stderr


def test_plan_refuses_latest_and_unknown_services(aws):
    ready(aws)
    r = deploy(aws, "plan", "--env", "dev", "--image-tag", f"{FIRST.name}=latest")
    assert r.exit_code == 1 and "'latest' is not an allowed tag" in r.stderr
    r = deploy(aws, "plan", "--env", "dev", "--image-tag", "no-such-service=abc")
    assert r.exit_code == 1 and "unknown service 'no-such-service'" in r.stderr


def test_plan_with_a_missing_secret_stops_before_any_change_set(aws):
    assert deploy(aws, "bootstrap", "--env", "dev").exit_code == 0
    push_images(aws)
    env = config.load().env("dev")
    secrets = [naming.secret(env, s, v) for s in env.services for v in s.secrets]
    assert secrets, "the configuration has no secret to test with"
    r = deploy(aws, "plan", "--env", "dev", *ALL_TAGS)
    assert r.exit_code == 1
    for service in env.services:
        for variable in service.secrets:
            assert f"secret {naming.secret(env, service, variable)} does not exist" in r.stderr
            assert f"bin/deploy secret set --env dev {service.name} {variable}" in r.stderr
    assert "nothing was uploaded" in r.stderr and "Traceback" not in r.output
    stacks = client(aws, "cloudformation").describe_stacks()["Stacks"]
    assert [s["StackName"] for s in stacks] == ["insightxi-dev-bootstrap"]


def test_plan_before_bootstrap_says_to_bootstrap(aws):
    r = deploy(aws, "plan", "--env", "dev", *ALL_TAGS)
    assert r.exit_code == 1
    assert "run: bin/deploy bootstrap --env dev" in r.stderr


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("UPDATE_IN_PROGRESS", "is busy (UPDATE_IN_PROGRESS)"),
        ("ROLLBACK_COMPLETE", "it must be deleted first"),
        ("UPDATE_ROLLBACK_FAILED", "cannot take a change set"),
    ],
)
def test_plan_refuses_a_stack_in_a_state_it_cannot_change(aws, tmp_path, status, message):
    ready(aws)
    plan_file = tmp_path / "p.json"
    assert (
        deploy(aws, "plan", "--env", "dev", *ALL_TAGS, "--plan-out", str(plan_file)).exit_code == 2
    )
    assert deploy(aws, "execute", str(plan_file), "--env", "dev").exit_code == 0
    # moto never reaches these states on its own: force it in its backend.
    backend = aws.backend("cloudformation")
    (stack,) = [s for s in backend.stacks.values() if s.name == "insightxi-dev"]
    stack.status = status
    r = deploy(aws, "plan", "--env", "dev", "--image-tag", f"{SERVICES[-1].name}=5d6e7f8")
    assert r.exit_code == 1
    assert message in r.stderr
    if status == "ROLLBACK_COMPLETE":
        assert "aws cloudformation delete-stack --region eu-west-1 --stack-name insightxi-dev" in (
            r.stderr
        )
    assert "Traceback" not in r.output


def test_execute_refuses_a_stale_plan(aws, tmp_path):
    ready(aws)
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert deploy(aws, "plan", "--env", "dev", *ALL_TAGS, "--plan-out", str(first)).exit_code == 2
    assert deploy(aws, "execute", str(first), "--env", "dev").exit_code == 0
    # Two plans from the same state; executing one makes the other stale.
    for path, tag in ((first, "aaaaaaa"), (second, "bbbbbbb")):
        r = deploy(
            aws,
            "plan",
            "--env",
            "dev",
            "--image-tag",
            f"{FIRST.name}={tag}",
            "--plan-out",
            str(path),
        )
        assert r.exit_code == 2, r.output
    assert deploy(aws, "execute", str(second), "--env", "dev").exit_code == 0
    r = deploy(aws, "execute", str(first), "--env", "dev")
    assert r.exit_code == 1
    assert "plan again: bin/deploy plan --env dev" in r.stderr


def test_execute_checks_the_environment_and_the_file(aws, tmp_path):
    ready(aws)
    plan_file = tmp_path / "p.json"
    assert (
        deploy(aws, "plan", "--env", "dev", *ALL_TAGS, "--plan-out", str(plan_file)).exit_code == 2
    )
    r = deploy(aws, "execute", str(plan_file), "--env", "staging")
    assert r.exit_code == 1 and "is a plan for dev, not staging" in r.stderr
    r = deploy(aws, "execute", str(tmp_path / "missing.json"), "--env", "dev")
    assert r.exit_code == 1 and "not found" in r.stderr
    (tmp_path / "bad.json").write_text("{")
    r = deploy(aws, "execute", str(tmp_path / "bad.json"), "--env", "dev")
    assert r.exit_code == 1 and "not valid JSON" in r.stderr


@pytest.fixture
def real_domain(aws, tmp_path, monkeypatch):
    """Every protected environment with a non-example domain and zone (what an operator sets
    before deploying it), in moto's account; templates/ rendered from that configuration."""
    from moto.core import DEFAULT_ACCOUNT_ID

    from cfn import build, render
    from tests.conftest import config_in_account

    swaps = {}
    for env in config.load().environments.values():
        if env.protected and example_values(env):
            swaps[env.domain_name] = f"{env.name}.insightxi.internal"
            swaps[env.hosted_zone_id] = "Z0LOCAL" + env.name.upper().ljust(13, "0")
    (tmp_path / "cfg").mkdir()
    path = config_in_account(DEFAULT_ACCOUNT_ID, tmp_path / "cfg", **swaps)
    templates = tmp_path / "templates"
    for env in config.load(path).environments.values():
        assert example_values(env) == []
        for r in render.render_env(env):
            (templates / r.path).parent.mkdir(parents=True, exist_ok=True)
            (templates / r.path).write_text(r.text, encoding="utf-8")
    monkeypatch.setattr(build, "TEMPLATES_DIR", templates)
    monkeypatch.setattr(aws, "config", path)
    return path


def test_plan_refuses_a_protected_environment_with_the_example_domain(aws, tmp_path):
    ready(aws, "prod")
    prod = config.load(aws.config).env("prod")
    found = example_values(prod)
    assert found  # the example configuration's prod
    r = deploy(aws, "plan", "--env", "prod", *ALL_TAGS)
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        f"error: prod is protected and still has example values: {'; '.join(found)}; nothing "
        "was uploaded",
        "  set domain_name (the public host name) and hosted_zone_id (its Route 53 hosted "
        "zone, Z...) in [environments.prod] of cfn/insightxi.toml, then bin/build-templates",
    ]
    bucket = plan_mod.bootstrap.artifacts_bucket(client(aws, "cloudformation"), prod)
    assert client(aws, "s3").list_objects_v2(Bucket=bucket).get("Contents", []) == []
    assert not Path("plans/insightxi-prod.json").exists()


def test_protected_environment_asks_before_executing(aws, tmp_path, real_domain):
    ready(aws, "prod")
    plan_file = tmp_path / "prod.json"
    assert (
        deploy(aws, "plan", "--env", "prod", *ALL_TAGS, "--plan-out", str(plan_file)).exit_code == 2
    )
    # No terminal to confirm in (CliRunner's stdin is not a tty): refused.
    r = deploy(aws, "execute", str(plan_file), "--env", "prod")
    assert r.exit_code == 1
    assert "prod is protected" in r.stderr and "--yes" in r.stderr
    assert (
        client(aws, "cloudformation").describe_stacks(StackName="insightxi-prod")["Stacks"][0][
            "StackStatus"
        ]
        == "REVIEW_IN_PROGRESS"
    )
    r = deploy(aws, "execute", str(plan_file), "--env", "prod", "--yes")
    assert r.exit_code == 0, r.output
    # Protected: termination protection is on once it is deployed, and status says so.
    cfn = client(aws, "cloudformation")
    stack = cfn.describe_stacks(StackName="insightxi-prod")["Stacks"][0]
    assert stack["EnableTerminationProtection"] is True
    # The stack policy on the root and on every nested stack (the root's does not reach them).
    nested = [
        r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName="insightxi-prod")["StackResourceSummaries"]
        if r["ResourceType"] == "AWS::CloudFormation::Stack"
    ]
    assert nested
    assert (
        f"termination protection: on for insightxi-prod; stack policy set on {len(nested) + 1} "
        "stack(s)"
    ) in r.stderr
    for name in ["insightxi-prod", *nested]:
        policy = json.loads(cfn.get_stack_policy(StackName=name)["StackPolicyBody"])
        (deny,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
        assert deny["Action"] == ["Update:Replace", "Update:Delete"] and deny["Resource"] == "*"
        assert (
            "AWS::ElasticLoadBalancingV2::LoadBalancer"
            in (deny["Condition"]["StringEquals"]["ResourceType"])
        )
    r = deploy(aws, "status", "--env", "prod", "--output", "json")
    assert json.loads(r.stdout)["termination_protection"] is True
    assert json.loads(r.stdout)["stack_policy"] == "set (2 statement(s), 1 deny)"


def test_status_of_an_environment_never_deployed(aws):
    r = deploy(aws, "status", "--env", "staging", "--output", "json")
    assert r.exit_code == 1
    assert json.loads(r.stdout)["exists"] is False


def test_plan_refuses_templates_that_differ_from_the_code(aws, tmp_path):
    stale = tmp_path / "templates"
    import shutil

    shutil.copytree(TEMPLATES, stale)
    (stale / "dev" / "edge.json").write_text("{}\n")
    clients = make_clients("eu-west-1", endpoint_url=aws.endpoint)
    env = config.load().env("dev")
    with pytest.raises(DeployError, match=r"templates/dev is not what the code renders: dev/edge"):
        plan_mod.run(clients, env, image_tags={}, templates_dir=stale, plan_path=None)


def _run_bin(aws, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BIN / "deploy"), *args, *local_args(aws)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
        env=env,
    )


def test_bin_deploy_as_a_user_runs_it(aws, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none")
    )
    # No credentials at all: one line, no traceback.
    r = _run_bin(aws, "status", "--env", "dev", env=env)
    assert r.returncode == 1
    assert "error: no AWS credentials found" in r.stderr and "Traceback" not in r.stderr
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    r = _run_bin(aws, "bootstrap", "--env", "dev", env=env)
    assert r.returncode == 0, r.stderr
    # Bad usage exits 1 (2 means "changes to review").
    r = _run_bin(aws, "plan", "--env", "dev", "--bogus", env=env)
    assert r.returncode == 1 and "No such option" in r.stderr
    r = _run_bin(aws, "plan", "--env", "qa", env=env)
    assert r.returncode == 1 and "unknown environment 'qa'; known: dev, staging, prod" in r.stderr


def test_throttling_is_retried(aws):
    from botocore.awsrequest import AWSResponse

    ready(aws)
    clients = make_clients("eu-west-1", endpoint_url=aws.endpoint)
    calls = {"n": 0}
    body = (
        b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
        b"<Message>Rate exceeded</Message></Error></ErrorResponse>"
    )

    class Raw:
        def stream(self, **_):
            yield body

    def throttle(request, **_):
        calls["n"] += 1
        if calls["n"] <= 2:
            return AWSResponse(request.url, 400, {}, Raw())
        return None

    clients.cloudformation.meta.events.register(
        "before-send.cloudformation.DescribeStacks", throttle
    )
    from cfn.deploy import changesets

    state = changesets.stack_state(
        clients.cloudformation, naming.bootstrap_stack(config.load().env("dev"))
    )
    assert state.exists and state.status == "CREATE_COMPLETE"
    assert calls["n"] == 3  # two throttled attempts, then the real call


def test_readme_flow_matches_the_commands():
    readme = (PROJECT_ROOT / "README.md").read_text()
    for command in (
        "bin/local-aws",
        "bin/deploy bootstrap",
        "bin/deploy plan",
        "bin/deploy execute",
        "bin/deploy status",
    ):
        assert command in readme, command


def test_plan_files_default_under_plans(aws, tmp_path):
    ready(aws)
    r = deploy(aws, "plan", "--env", "dev", *ALL_TAGS)
    assert r.exit_code == 2
    assert Path("plans/insightxi-dev.json").is_file()


def test_plan_catches_a_wrong_tag_and_a_missing_repository_before_anything(aws, tmp_path):
    assert deploy(aws, "bootstrap", "--env", "dev").exit_code == 0
    create_secrets(aws)
    first, *others = SERVICES
    push_images(aws, services=others)  # the first service has no repository at all
    typo = others[0]
    tags = [a for s in SERVICES for a in ("--image-tag", f"{s.name}=1a2b3c4")]
    tags[tags.index(f"{typo.name}=1a2b3c4")] = f"{typo.name}=1a2b3c5"
    r = deploy(aws, "plan", "--env", "dev", *tags, "--plan-out", str(tmp_path / "p.json"))
    assert r.exit_code == 1
    assert "Traceback" not in r.output
    assert "error: 2 problem(s) found before planning; nothing was uploaded" in r.stderr
    assert (
        f"  - {first.name}: ECR repository {first.repository!r} does not exist (image tag 1a2b3c4)"
    ) in r.stderr
    assert (
        f"  - {typo.name}: image tag '1a2b3c5' is not in ECR repository {typo.repository!r}"
    ) in r.stderr
    assert "--skip-image-check" in r.stderr
    # Nothing uploaded, no change set, no stack, no plan file.
    bucket = "insightxi-dev-artifacts-123456789012-eu-west-1"
    assert client(aws, "s3").list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    stacks = client(aws, "cloudformation").describe_stacks()["Stacks"]
    assert [s["StackName"] for s in stacks] == ["insightxi-dev-bootstrap"]
    assert not (tmp_path / "p.json").exists()
    # The check can be skipped explicitly (e.g. an image pushed by another pipeline later).
    r = deploy(aws, "plan", "--env", "dev", *tags, "--skip-image-check")
    assert r.exit_code == 2, r.output


def test_plan_refuses_a_secret_scheduled_for_deletion(aws):
    ready(aws)
    env = config.load().env("dev")
    name = next(naming.secret(env, s, v) for s in env.services for v in s.secrets)
    client(aws, "secretsmanager").delete_secret(SecretId=name, RecoveryWindowInDays=7)
    r = deploy(aws, "plan", "--env", "dev", *ALL_TAGS)
    assert r.exit_code == 1
    assert f"secret {name} is scheduled for deletion" in r.stderr
    assert f"aws secretsmanager restore-secret --region eu-west-1 --secret-id {name}" in r.stderr
    r = deploy(aws, "plan", "--env", "dev", *ALL_TAGS, "--skip-secret-check")
    assert r.exit_code == 2, r.output


def test_ctrl_c_during_plan_deletes_the_half_made_change_set(aws, monkeypatch, capsys):
    from cfn.cli import deploy_main
    from cfn.deploy import changesets

    ready(aws)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C while the new change set is being described

    monkeypatch.setattr(changesets, "describe_tree", interrupted)
    monkeypatch.setattr(
        sys,
        "argv",
        ["deploy", "plan", "--env", "dev", *ALL_TAGS, *local_args(aws)],
    )
    with pytest.raises(SystemExit) as info:
        deploy_main()
    assert info.value.code == 130
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("interrupted: the half-made change set insightxi-dev-")
    assert lines[-1].endswith(" was deleted")
    assert "Traceback" not in err
    summaries = client(aws, "cloudformation").list_change_sets(StackName="insightxi-dev")
    assert [s for s in summaries["Summaries"] if s["StackName"] == "insightxi-dev"] == []
    assert not Path("plans/insightxi-dev.json").exists()


def test_ctrl_c_during_plan_when_the_change_set_cannot_be_deleted_says_how(
    aws, monkeypatch, capsys
):
    """The local AWS answers DeleteChangeSet with a proxy's HTML error page (what an
    interrupted connection through a proxy can give): the message keeps one short line and
    says the command that deletes the change set."""
    import boto3.session
    from botocore.awsrequest import AWSResponse

    from cfn.cli import deploy_main
    from cfn.deploy import changesets

    ready(aws)
    page = b"<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>"

    class Raw:
        def stream(self, **_):
            yield page

    def html(request, **_):
        return AWSResponse(request.url, 400, {"Content-Type": "text/html"}, Raw())

    made_by = boto3.session.Session.client

    def client_with_proxy(self, *args, **kwargs):
        made = made_by(self, *args, **kwargs)
        made.meta.events.register("before-send.cloudformation.DeleteChangeSet", html)
        return made

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C while the new change set is being described

    monkeypatch.setattr(boto3.session.Session, "client", client_with_proxy)
    monkeypatch.setattr(changesets, "describe_tree", interrupted)
    monkeypatch.setattr(
        sys, "argv", ["deploy", "plan", "--env", "dev", *ALL_TAGS, *local_args(aws)]
    )
    with pytest.raises(SystemExit) as info:
        deploy_main()
    assert info.value.code == 130
    err = capsys.readouterr().err
    last = [line for line in err.splitlines() if line.strip()][-1]
    summaries = client(aws, "cloudformation").list_change_sets(StackName="insightxi-dev")
    (name,) = [
        c["ChangeSetName"] for c in summaries["Summaries"] if c["StackName"] == "insightxi-dev"
    ]
    assert last == (
        f"interrupted: change set {name} may be left (ResponseParserError); delete it: aws "
        "cloudformation delete-change-set --region eu-west-1 --stack-name insightxi-dev "
        f"--change-set-name {name}"
    )
    assert "html" not in err.lower() and "Traceback" not in err


def test_status_watch_with_nothing_in_progress(aws):
    ready(aws)
    r = deploy(aws, "status", "--env", "dev", "--watch")
    assert r.exit_code == 1  # the stack does not exist: status says so, as without --watch
    assert "nothing in progress on insightxi-dev" in r.stderr


def test_a_throttled_execute_is_retried_with_the_same_token(aws, tmp_path):
    """The local AWS answers ExecuteChangeSet with Throttling twice; botocore's retries resend
    the same request, token included, and the deployment is followed to the end."""
    from urllib.parse import parse_qs

    from botocore.awsrequest import AWSResponse

    from cfn.deploy import events, execute, planfile

    ready(aws)
    plan_file = tmp_path / "p.json"
    assert (
        deploy(aws, "plan", "--env", "dev", *ALL_TAGS, "--plan-out", str(plan_file)).exit_code == 2
    )
    plan = planfile.read(plan_file)
    clients = make_clients("eu-west-1", endpoint_url=aws.endpoint)
    tokens = []
    body = (
        b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
        b"<Message>Rate exceeded</Message></Error></ErrorResponse>"
    )

    class Raw:
        def stream(self, **_):
            yield body

    def throttle(request, **_):
        body_text = request.body if isinstance(request.body, str) else request.body.decode()
        tokens.append(parse_qs(body_text)["ClientRequestToken"][0])
        return AWSResponse(request.url, 400, {}, Raw()) if len(tokens) <= 2 else None

    clients.cloudformation.meta.events.register(
        "before-send.cloudformation.ExecuteChangeSet", throttle
    )
    env = config.load().env("dev")
    outcome = execute.run(clients, plan, env, env.services, execute.Display())
    assert tokens == [events.token_for(plan.change_set_id)] * 3
    assert outcome.ok and outcome.status == "CREATE_COMPLETE"
    assert [v.line() for v in outcome.verdicts] == [
        f"{s.name}: rolled out: 1a2b3c4, 1/1 running" for s in env.services
    ]


def _deployed(aws, tmp_path, env: str = "dev") -> Path:
    ready(aws, env)
    plan_file = tmp_path / f"{env}.json"
    r = deploy(aws, "plan", "--env", env, *ALL_TAGS, "--plan-out", str(plan_file))
    assert r.exit_code == 2, r.output
    assert deploy(aws, "execute", str(plan_file), "--env", env, "--yes").exit_code == 0
    return plan_file


def test_diff_is_read_only_and_says_which_stack_and_resource_differ(aws, tmp_path, monkeypatch):
    r = deploy(aws, "diff", "--env", "dev")
    assert r.exit_code == 1 and "insightxi-dev is not deployed" in r.stderr
    _deployed(aws, tmp_path)
    cfn = client(aws, "cloudformation")
    change_sets = cfn.list_change_sets(StackName="insightxi-dev")["Summaries"]

    r = deploy(aws, "diff", "--env", "dev")
    assert r.exit_code == 0, r.output
    root = json.loads((TEMPLATES / "dev" / "root.json").read_text())
    nested = [r for r in root["Resources"].values() if r["Type"] == "AWS::CloudFormation::Stack"]
    stacks = 1 + len(nested)
    assert r.stdout.strip() == (
        f"no differences: {stacks} stack(s) of dev match the committed templates"
    )

    # An image tag other than the deployed one.
    r = deploy(aws, "diff", "--env", "dev", "--image-tag", f"{FIRST.name}=9f8e7d6")
    assert r.exit_code == 2
    parameter = naming.image_tag_parameter(FIRST)
    assert f"~ parameter {parameter}: deployed 1a2b3c4, committed 9f8e7d6" in r.stdout

    # A committed template that is not what is deployed: the nested stack and resource named.
    import shutil

    from cfn import build

    changed = tmp_path / "templates"
    shutil.copytree(TEMPLATES, changed)
    edge = json.loads((changed / "dev" / "edge.json").read_text())
    (logical, resource), *_ = sorted(edge["Resources"].items())
    resource.setdefault("Properties", {})["Tags"] = [{"Key": "Owner", "Value": "someone"}]
    (changed / "dev" / "edge.json").write_text(json.dumps(edge))
    with monkeypatch.context() as patched:
        patched.setattr(build, "TEMPLATES_DIR", changed)
        r = deploy(aws, "diff", "--env", "dev", "--output", "json")
    assert r.exit_code == 2
    result = json.loads(r.stdout)
    differing = {s["stack"]: s["differences"] for s in result["stacks"] if s["differences"]}
    assert differing == {"Edge": [f"~ {logical} ({resource['Type']}): Properties.Tags"]}

    # A stack tag changed on the deployed stack (moto's backend, as if by hand).
    backend = aws.backend("cloudformation")
    (stack,) = [s for s in backend.stacks.values() if s.name == "insightxi-dev"]
    stack.tags = {**stack.tags, "Environment": "qa"}
    r = deploy(aws, "diff", "--env", "dev")
    assert r.exit_code == 2
    assert "~ stack tag Environment: deployed qa, committed dev" in r.stdout
    # Read-only: no change set was made.
    assert cfn.list_change_sets(StackName="insightxi-dev")["Summaries"] == change_sets


def test_a_no_change_plan_spends_the_older_plan_and_drift_degrades_on_the_emulator(aws, tmp_path):
    _deployed(aws, tmp_path)
    older = Path("plans/insightxi-dev.json")
    r = deploy(aws, "plan", "--env", "dev", "--image-tag", f"{FIRST.name}=9f8e7d6")
    assert r.exit_code == 2, r.output
    # moto has no drift API: the review says so and goes on.
    assert "drift not checked: the endpoint did not answer the drift detection calls" in r.stdout
    assert f"{naming.image_tag_parameter(FIRST)}: 1a2b3c4 → 9f8e7d6" in r.stdout

    r = deploy(aws, "plan", "--env", "dev", "--no-drift")
    assert r.exit_code == 0, r.output
    assert "no changes" in r.stdout
    assert f"{older}: marked spent" in r.stderr
    r = deploy(aws, "execute", str(older), "--env", "dev")
    assert r.exit_code == 0
    assert r.stdout.strip() == "nothing to execute: the last plan found no changes"


def test_the_readme_shows_what_plan_says_about_a_missing_tag(aws, tmp_path):
    """The README's preflight example is this run's output, line for line."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    block = readme.split("$ bin/deploy plan --env dev --image-tag ", 1)[1].split("```", 1)[0]
    command, *expected = block.strip("\n").splitlines()
    assert deploy(aws, "bootstrap", "--env", "dev").exit_code == 0
    create_secrets(aws)
    push_images(aws, tags=("1a2b3c4",))
    first = tmp_path / "first.json"
    assert deploy(aws, "plan", "--env", "dev", *ALL_TAGS, "--plan-out", str(first)).exit_code == 2
    assert deploy(aws, "execute", str(first), "--env", "dev").exit_code == 0
    r = deploy(aws, "plan", "--env", "dev", "--image-tag", command)
    assert r.exit_code == 1
    assert r.stderr.splitlines() == expected


def test_every_command_refuses_credentials_for_another_account(aws, tmp_path):
    # The project's own configuration: its accounts are not moto's.
    env = config.load().env("dev")
    for command in (["bootstrap"], ["status"], ["plan", *ALL_TAGS], ["secret", "list"]):
        r = CliRunner().invoke(
            cli.deploy, [*command, "--env", env.name, "--endpoint-url", aws.endpoint]
        )
        assert r.exit_code == 1, (command, r.output)
        lines = [line for line in r.stderr.splitlines() if line.strip()]
        assert lines == [
            "error: these credentials are for AWS account 123456789012, but environment dev is "
            f"in account {env.account_id} (account_id in the configuration): nothing was done"
        ]
    # Refused before any other call: no bootstrap stack, no bucket, no change set.
    assert client(aws, "cloudformation").list_stacks()["StackSummaries"] == []
    assert client(aws, "s3").list_buckets()["Buckets"] == []


def test_the_environments_deploy_role_is_assumed_before_the_account_check(aws, tmp_path):
    from tests.conftest import config_in_account

    # An account that is not the caller's: only the assumed role's credentials are in it.
    other = "210987654321"
    role = f"arn:aws:iam::{other}:role/insightxi-deployer"
    path = config_in_account(
        other,
        tmp_path,
        **{f'account_id = "{other}"': f'account_id = "{other}"\ndeploy_role_arn = "{role}"'},
    )
    r = CliRunner().invoke(
        cli.deploy,
        ["bootstrap", "--env", "dev", "--endpoint-url", aws.endpoint, "--config", str(path)],
    )
    assert r.exit_code == 0, r.output
    assert f"assumed {role} as insightxi-deploy-dev" in r.stderr
    # The bucket was made in the role's account (moto keeps one backend per account).
    assert f"insightxi-dev-artifacts-{other}-eu-west-1" in r.stdout


def test_a_failing_role_assumption_is_one_line():
    from botocore.stub import Stubber

    from cfn.deploy import identity

    sts = boto3.client(
        "sts", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    role = "arn:aws:iam::210987654321:role/insightxi-deployer"
    with Stubber(sts) as stub:
        # AWS's answer when the role's trust policy does not name the caller.
        stub.add_client_error(
            "assume_role",
            service_error_code="AccessDenied",
            service_message="User: arn:aws:iam::123456789012:user/ci is not authorized to "
            f"perform: sts:AssumeRole on resource: {role}",
            http_status_code=403,
            expected_params={"RoleArn": role, "RoleSessionName": "insightxi-deploy-prod"},
        )
        with pytest.raises(DeployError) as info:
            identity.assume_role(sts, role, "prod")
    assert info.value.message == (
        f"cannot assume prod's deploy role {role}: AccessDenied: User: "
        "arn:aws:iam::123456789012:user/ci is not authorized to perform: sts:AssumeRole on "
        f"resource: {role}"
    )
    assert "trust policy" in info.value.hint


@pytest.fixture
def change_set_calls(monkeypatch):
    """Every CreateChangeSet request's parameters as botocore sends them: moto takes the
    rollback configuration but does not keep it, so the request is what can be checked."""
    import copy

    import boto3.session

    calls = []
    made_by = boto3.session.Session.client

    def record(params, **_):
        calls.append(copy.deepcopy(params))

    def client_with_record(self, *args, **kwargs):
        made = made_by(self, *args, **kwargs)
        made.meta.events.register("provide-client-params.cloudformation.CreateChangeSet", record)
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client_with_record)
    return calls


def test_rollback_triggers_apply_from_the_second_plan(aws, tmp_path, change_set_calls):
    from cfn.deploy import envelope

    env = next(e for e in config.load(aws.config).environments.values() if not e.protected)
    tags = [arg for s in env.services for arg in ("--image-tag", f"{s.name}=1a2b3c4")]
    ready(aws, env.name)
    first = tmp_path / "first.json"
    r = deploy(aws, "plan", "--env", env.name, *tags, "--plan-out", str(first))
    assert r.exit_code == 2, r.output
    assert envelope.NOT_IN_FORCE in r.stdout.splitlines()
    assert "RollbackConfiguration" not in change_set_calls[-1]
    assert deploy(aws, "execute", str(first), "--env", env.name, "--yes").exit_code == 0

    stack = client(aws, "cloudformation").describe_stacks(StackName=naming.root_stack(env))
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Stacks"][0]["Outputs"]}
    arns = outputs[envelope.ROLLBACK_OUTPUT].split(",")
    assert arns and all(arn.startswith("arn:aws:cloudwatch:") for arn in arns)
    service = env.services[0].name
    r = deploy(aws, "plan", "--env", env.name, "--image-tag", f"{service}=9f8e7d6")
    assert r.exit_code == 2, r.output
    assert change_set_calls[-1]["RollbackConfiguration"] == {
        "RollbackTriggers": [{"Arn": arn, "Type": "AWS::CloudWatch::Alarm"} for arn in arns],
        "MonitoringTimeInMinutes": env.rollback_monitoring_minutes,
    }
    lines = r.stdout.splitlines()
    start = lines.index(
        f"rollback triggers ({len(arns)}), monitored for {env.rollback_monitoring_minutes} min "
        "after deployment:"
    )
    assert lines[start + 1 : start + 1 + len(arns)] == [f"    {arn}" for arn in arns]
    assert envelope.NOT_IN_FORCE not in lines


def test_bootstrap_makes_the_service_role_and_every_change_set_names_it(
    aws, tmp_path, change_set_calls
):
    from cfn.stacks import deployroles

    env = config.load(aws.config).env("dev")
    ready(aws)
    role = client(aws, "iam").get_role(RoleName=deployroles.service_role_name(env))["Role"]
    policy_arn = f"arn:aws:iam::123456789012:policy/{deployroles.deployer_policy_name(env)}"
    assert client(aws, "iam").get_policy(PolicyArn=policy_arn)["Policy"]["Arn"] == policy_arn
    bootstrap_call = change_set_calls[-1]
    assert bootstrap_call["StackName"] == naming.bootstrap_stack(env)
    assert bootstrap_call["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert "RoleARN" not in bootstrap_call  # bootstrap makes the role: it cannot act with it

    r = deploy(aws, "plan", "--env", "dev", *ALL_TAGS)
    assert r.exit_code == 2, r.output
    assert change_set_calls[-1]["StackName"] == naming.root_stack(env)
    assert change_set_calls[-1]["RoleARN"] == role["Arn"]
    assert f"service role: {role['Arn']}" in r.stdout.splitlines()


def test_plan_without_the_service_role_says_to_bootstrap(aws):
    from cfn.stacks import bootstrap

    env = config.load(aws.config).env("dev")
    # A bootstrap stack made before there was a service role: no ServiceRoleArn output.
    template = json.loads(render.to_text(bootstrap.build(env)))
    for name in ("ServiceRole", "DeployerPolicy"):
        del template["Resources"][name]
    for name in ("ServiceRoleArn", "DeployerPolicyArn"):
        del template["Outputs"][name]
    client(aws, "cloudformation").create_stack(
        StackName=naming.bootstrap_stack(env), TemplateBody=json.dumps(template)
    )
    create_secrets(aws)
    push_images(aws)
    r = deploy(aws, "plan", "--env", "dev", *ALL_TAGS)
    assert r.exit_code == 1
    assert r.stderr.splitlines() == [
        f"error: no CloudFormation service role for dev: stack {naming.bootstrap_stack(env)} "
        "has no ServiceRoleArn output",
        "  run: bin/deploy bootstrap --env dev",
    ]


def test_allow_replace_must_name_a_protected_resource_the_change_set_replaces(
    aws, tmp_path, real_domain
):
    ready(aws, "prod")
    r = deploy(aws, "plan", "--env", "prod", *ALL_TAGS, "--allow-replace", "LoadBalancer")
    assert r.exit_code == 1
    assert r.stderr.splitlines()[-2:] == [
        "error: --allow-replace LoadBalancer: this change set replaces no protected resource "
        "by that id",
        "  plan again without it (a nested stack's resource is STACK/LOGICAL_ID, as the review "
        "prints it)",
    ]
    # Refused after the change set was made: it is deleted, nothing waits for review.
    summaries = client(aws, "cloudformation").list_change_sets(StackName="insightxi-prod")
    assert [s for s in summaries["Summaries"] if s["StackName"] == "insightxi-prod"] == []
    assert not Path("plans/insightxi-prod.json").exists()


@pytest.fixture
def cloudformation_calls(monkeypatch):
    """(operation, parameters) of every CloudFormation request, in order (moto keeps a stack
    policy but enforces none, so what was asked of CloudFormation, and when, is the check)."""
    import copy

    import boto3.session

    calls = []
    made_by = boto3.session.Session.client

    def record(params, model, **_):
        calls.append((model.name, copy.deepcopy(params)))

    def client_with_record(self, *args, **kwargs):
        made = made_by(self, *args, **kwargs)
        made.meta.events.register("provide-client-params.cloudformation", record)
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client_with_record)
    return calls


def _prod_update_allowing(aws, tmp_path, allow: tuple[str, ...]) -> Path:
    """prod deployed, and a plan of an update to it made with `--allow-replace` `allow` (moto
    never reports the replacement that plan requires for it, so the recorded plan stands for
    one)."""
    from cfn.deploy import planfile

    ready(aws, "prod")
    first = tmp_path / "first.json"
    assert deploy(aws, "plan", "--env", "prod", *ALL_TAGS, "--plan-out", str(first)).exit_code == 2
    assert deploy(aws, "execute", str(first), "--env", "prod", "--yes").exit_code == 0
    r = deploy(aws, "plan", "--env", "prod", "--image-tag", f"{FIRST.name}=9f8e7d6")
    assert r.exit_code == 2, r.output
    update = tmp_path / "update.json"
    made = planfile.read(Path("plans/insightxi-prod.json"))
    planfile.write(update, made.model_copy(update={"allow_replace": allow}))
    return update


def _policies(calls, start: int, end: int | None = None) -> dict[str, dict]:
    """The stack policy set on each stack (by id) among `calls[start:end]`."""
    return {
        p["StackName"]: json.loads(p["StackPolicyBody"])
        for n, p in calls[start:end]
        if n == "SetStackPolicy"
    }


def _nested_stack_ids(aws) -> dict[str, str]:
    cfn = client(aws, "cloudformation")
    summaries = cfn.list_stack_resources(StackName="insightxi-prod")["StackResourceSummaries"]
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in summaries
        if r["ResourceType"] == "AWS::CloudFormation::Stack"
    }


def test_execute_lifts_the_stack_policy_only_on_the_stack_of_what_the_plan_allows(
    aws, tmp_path, real_domain, cloudformation_calls
):
    from cfn.deploy import stackpolicy

    service_stack = naming.service_stack_id(FIRST)
    allow = (f"{naming.EDGE}/LoadBalancer", f"{service_stack}/LogGroup")
    update = _prod_update_allowing(aws, tmp_path, allow)
    cloudformation_calls.clear()
    r = deploy(aws, "execute", str(update), "--env", "prod", "--yes")
    assert r.exit_code == 0, r.output

    executed = [n for n, _ in cloudformation_calls].index("ExecuteChangeSet")
    before = _policies(cloudformation_calls, 0, executed)
    after = _policies(cloudformation_calls, executed)
    nested = _nested_stack_ids(aws)
    # Only the edge stack exempts its load balancer and only that service's stack its log
    # group; every other service's LogGroup (same logical id) and the root stay denied.
    assert before[nested[naming.EDGE]] == stackpolicy.document(("LoadBalancer",))
    assert before[nested[service_stack]] == stackpolicy.document(("LogGroup",))
    others = set(before) - {nested[naming.EDGE], nested[service_stack]}
    assert others and all(before[s] == stackpolicy.document() for s in others)
    assert set(after) == set(before)
    assert all(p == stackpolicy.document() for p in after.values())


def test_a_failed_or_interrupted_execute_puts_the_full_stack_policy_back(
    aws, tmp_path, real_domain, cloudformation_calls
):
    from cfn.deploy import execute, planfile, stackpolicy
    from cfn.deploy.errors import Interrupted

    update = _prod_update_allowing(aws, tmp_path, (f"{naming.EDGE}/LoadBalancer",))
    plan = planfile.read(update)
    env = config.load(aws.config).env("prod")
    clients = make_clients(env.region, endpoint_url=aws.endpoint)
    notes: list[str] = []

    def ctrl_c(_event):
        raise KeyboardInterrupt

    cloudformation_calls.clear()
    display = execute.Display(on_event=ctrl_c, on_note=notes.append)
    with pytest.raises(Interrupted, match="the deployment goes on in CloudFormation"):
        execute.run(clients, plan, env, env.services, display)
    executed = [n for n, _ in cloudformation_calls].index("ExecuteChangeSet")
    before = _policies(cloudformation_calls, 0, executed)
    after = _policies(cloudformation_calls, executed)
    assert stackpolicy.document(("LoadBalancer",)) in before.values()
    assert set(after) == set(before)
    assert all(p == stackpolicy.document() for p in after.values())
    assert notes == [
        f"the run did not succeed: the full stack policy is set again on {len(after)} stack(s)"
    ]
    for stack, policy in after.items():
        body = client(aws, "cloudformation").get_stack_policy(StackName=stack)["StackPolicyBody"]
        assert json.loads(body) == policy


def test_when_the_full_stack_policy_cannot_be_put_back_execute_says_what_to_run(
    aws, tmp_path, real_domain
):
    """The local AWS refuses SetStackPolicy once the change set is executed (AccessDenied, as
    for a role without cloudformation:SetStackPolicy) and the run fails."""
    from botocore.awsrequest import AWSResponse

    from cfn.deploy import execute, planfile, stackpolicy
    from cfn.deploy.errors import Interrupted

    update = _prod_update_allowing(aws, tmp_path, (f"{naming.EDGE}/LoadBalancer",))
    plan = planfile.read(update)
    env = config.load(aws.config).env("prod")
    clients = make_clients(env.region, endpoint_url=aws.endpoint)
    body = (
        b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
        b"<Message>not authorized</Message></Error></ErrorResponse>"
    )
    executed: list[bool] = []

    class Raw:
        def stream(self, **_):
            yield body

    def deny(request, **_):
        return AWSResponse(request.url, 403, {}, Raw()) if executed else None

    cfn = clients.cloudformation
    cfn.meta.events.register("before-send.cloudformation.SetStackPolicy", deny)
    cfn.meta.events.register(
        "after-call.cloudformation.ExecuteChangeSet", lambda **_: executed.append(True)
    )
    notes: list[str] = []

    def ctrl_c(_event):
        raise KeyboardInterrupt

    with pytest.raises(Interrupted):
        execute.run(clients, plan, env, env.services, execute.Display(ctrl_c, on_note=notes.append))
    assert notes == [
        "the stack policy loosened for --allow-replace could not be put back (AccessDenied); "
        f"run: {stackpolicy.by_hand(env.region, plan.stack, termination=False)}"
    ]
    full = json.dumps(stackpolicy.document(), sort_keys=True, separators=(",", ":"))
    assert f"set-stack-policy --region {env.region} --stack-name {plan.stack} " in notes[0]
    assert f"--stack-policy-body '{full}'" in notes[0]


def test_allow_replace_for_an_unprotected_environment_is_refused_before_any_upload(aws):
    ready(aws, "dev")
    r = deploy(aws, "plan", "--env", "dev", *ALL_TAGS, "--allow-replace", "LogGroup")
    assert r.exit_code == 1
    assert r.stderr.splitlines()[-2:] == [
        "error: --allow-replace: dev is not protected; nothing to allow",
        "  plan without --allow-replace",
    ]
    dev = config.load(aws.config).env("dev")
    bucket = plan_mod.bootstrap.artifacts_bucket(client(aws, "cloudformation"), dev)
    assert client(aws, "s3").list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_the_environments_profile_is_used_unless_profile_is_given(tmp_path):
    from cfn.cli.context import DeployContext
    from tests.conftest import config_in_account

    env = config.load().env("dev")
    path = config_in_account(
        env.account_id,
        tmp_path,
        **{"[environments.dev]\n": '[environments.dev]\nprofile = "dev"\n'},
    )
    assert DeployContext("dev", None, None, None, "text", path).profile == "dev"
    given = DeployContext("dev", None, "mine", None, "text", path)
    assert given.profile == "mine"
    assert DeployContext("staging", None, None, None, "text", path).profile is None


def test_when_protecting_fails_execute_says_to_replan_or_run_the_commands(
    aws, tmp_path, real_domain
):
    """The local AWS refuses UpdateTerminationProtection (AccessDenied, as for a deployer
    without cloudformation:UpdateTerminationProtection) after a successful deployment."""
    from botocore.awsrequest import AWSResponse

    from cfn.deploy import execute, planfile, stackpolicy

    ready(aws, "prod")
    plan_file = tmp_path / "prod.json"
    r = deploy(aws, "plan", "--env", "prod", *ALL_TAGS, "--plan-out", str(plan_file))
    assert r.exit_code == 2, r.output
    plan = planfile.read(plan_file)
    env = config.load(aws.config).env("prod")
    clients = make_clients(env.region, endpoint_url=aws.endpoint)
    body = (
        b"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
        b"<Message>not authorized</Message></Error></ErrorResponse>"
    )

    class Raw:
        def stream(self, **_):
            yield body

    clients.cloudformation.meta.events.register(
        "before-send.cloudformation.UpdateTerminationProtection",
        lambda request, **_: AWSResponse(request.url, 403, {}, Raw()),
    )
    with pytest.raises(DeployError) as info:
        execute.run(clients, plan, env, env.services, execute.Display())
    assert info.value.message.startswith(f"deployed, but {plan.stack} could not be protected")
    assert info.value.hint == (
        "give the role cloudformation:UpdateTerminationProtection and SetStackPolicy, then "
        f"re-plan and execute, or run by hand: {stackpolicy.by_hand(env.region, plan.stack)}"
    )
    assert "aws cloudformation update-termination-protection --region " in info.value.hint


def test_an_unwritable_summary_md_still_shows_the_review_and_says_the_change_set_waits(
    aws, tmp_path
):
    ready(aws)
    plan_file = tmp_path / "dev.plan.json"
    # Its parent is a file: nothing can be written there (not even by root, unlike a chmod).
    (tmp_path / "not-a-directory").write_text("")
    summary = tmp_path / "not-a-directory" / "review.md"
    r = deploy(
        aws,
        "plan",
        "--env",
        "dev",
        *ALL_TAGS,
        "--plan-out",
        str(plan_file),
        "--summary-md",
        str(summary),
    )
    assert r.exit_code == 1, r.output
    # The review is on stdout all the same, and the plan file is written.
    assert "(CREATE) for stack insightxi-dev in eu-west-1" in r.stdout
    assert json.loads(plan_file.read_text())["environment"] == "dev"
    assert f"cannot write the review to {summary} ({summary.parent}: Not a directory)" in r.stderr
    assert "the change set is made and waits" in r.stderr
    assert "Traceback" not in r.output
    # What the message says is true: the change set exists and is ready for review.
    cfn = client(aws, "cloudformation")
    # moto lists every stack's change sets whatever StackName says: keep the root stack's.
    summaries = cfn.list_change_sets(StackName="insightxi-dev")["Summaries"]
    mine = [s["Status"] for s in summaries if s["StackName"] == "insightxi-dev"]
    assert mine == ["CREATE_COMPLETE"]
