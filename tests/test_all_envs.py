"""`status --all` and `services --all` across accounts, against the local AWS: every environment
is read with its own credentials (its profile, its deploy role, its account checked), one that
cannot be reached is one line, the others are still shown, and the exit status says so.

The environments come from the configuration: the first is in moto's account, the second in
another account the caller's credentials are not for, and any further one in a third account
reached through its `deploy_role_arn` (moto's STS hands out that account's credentials).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError, NoCredentialsError
from moto.core import DEFAULT_ACCOUNT_ID

from cfn import config, naming
from cfn.cli.context import DeployContext, Unreached, each
from tests import test_deploy_e2e as e2e
from tests.test_deploy_e2e import deploy

aws = e2e.aws
fresh_aws = e2e.fresh_aws

ELSEWHERE = "210987654321"  # an account the caller's credentials are not for
VIA_ROLE = "310987654321"  # an account reached through the environment's deploy role
ROLE = f"arn:aws:iam::{VIA_ROLE}:role/insightxi-deployer"


def config_across_accounts(directory: Path, **extra: str) -> Path:
    """The project's configuration with its environments spread over accounts (module doc);
    `extra`: a line to add to an environment's section, by name."""
    names = list(config.load().environments)
    assert len(names) >= 2, "the configuration needs two environments for this story"
    accounts = {names[0]: DEFAULT_ACCOUNT_ID, names[1]: ELSEWHERE}
    lines, section = [], None
    for line in config.DEFAULT_CONFIG_PATH.read_text().splitlines():
        header = re.match(r"^\[environments\.([\w-]+)\]$", line)
        section = header.group(1) if header else section if not line.startswith("[") else None
        if section and line.startswith("account_id = "):
            line = f'account_id = "{accounts.get(section, VIA_ROLE)}"'
            if section not in accounts:
                line += f'\ndeploy_role_arn = "{ROLE}"'
            if section in extra:
                line += "\n" + extra[section]
        lines.append(line)
    path = directory / "insightxi.toml"
    path.write_text("\n".join(lines) + "\n")
    loaded = config.load(path)
    assert [e.account_id for e in loaded.environments.values()][:2] == [
        DEFAULT_ACCOUNT_ID,
        ELSEWHERE,
    ]
    return path


def run(aws, path: Path, *args: str):
    from click.testing import CliRunner

    from cfn import cli

    r = CliRunner().invoke(
        cli.deploy, [*args, "--endpoint-url", aws.endpoint, "--config", str(path)]
    )
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r


def wrong_account_line(env: config.Environment) -> str:
    return (
        f"{env.name}: not reached: these credentials are for AWS account {DEFAULT_ACCOUNT_ID}, "
        f"but environment {env.name} is in account {env.account_id} (account_id in the "
        "configuration): nothing was done"
    )


def root_stack_via_role(aws, env: config.Environment) -> None:
    """A root stack in the role's account only: status can show it only by assuming the role."""
    sts = boto3.client("sts", endpoint_url=aws.endpoint, region_name=env.region)
    creds = sts.assume_role(RoleArn=ROLE, RoleSessionName="test")["Credentials"]
    cfn = boto3.client(
        "cloudformation",
        endpoint_url=aws.endpoint,
        region_name=env.region,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    body = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    cfn.create_stack(StackName=naming.root_stack(env), TemplateBody=json.dumps(body))


def test_status_all_reads_each_environment_with_its_own_credentials(aws, tmp_path):
    path = config_across_accounts(tmp_path)
    envs = list(config.load(path).environments.values())
    reachable, elsewhere, via_role = envs[0], envs[1], envs[2:]
    for env in via_role:
        root_stack_via_role(aws, env)

    r = run(aws, path, "status", "--all")
    assert r.exit_code == 1, r.output
    lines = r.stdout.splitlines()
    rows = {line.split()[0]: line for line in lines[1 : 1 + len(envs) - 1]}
    assert lines[0].split()[0] == "ENV"
    assert list(rows) == [e.name for e in envs if e is not elsewhere]
    assert re.match(rf"{reachable.name}\s+not created\s", rows[reachable.name])
    for env in via_role:
        assert re.match(rf"{env.name}\s+CREATE_COMPLETE\s", rows[env.name]), rows[env.name]
    assert lines[len(envs) :] == [wrong_account_line(elsewhere)]
    assert "Traceback" not in r.output

    r = run(aws, path, "status", "--all", "--output", "json")
    assert r.exit_code == 1
    data = json.loads(r.stdout)["environments"]
    assert [e["environment"] for e in data] == [e.name for e in envs]
    assert [e["reachable"] for e in data] == [e is not elsewhere for e in envs]
    (failed,) = [e for e in data if not e["reachable"]]
    assert failed == {
        "environment": elsewhere.name,
        "reachable": False,
        "error": wrong_account_line(elsewhere).split(": not reached: ", 1)[1],
    }
    assert all(e["error"] is None and "exists" in e for e in data if e["reachable"])


def test_services_all_shows_every_reachable_environments_services(aws, tmp_path):
    path = config_across_accounts(tmp_path)
    envs = list(config.load(path).environments.values())
    elsewhere = envs[1]
    r = run(aws, path, "services", "--all")
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    shown = [e for e in envs if e is not elsewhere]
    assert len(lines) == 1 + sum(len(e.services) for e in shown) + 1
    assert {line.split()[0] for line in lines[1:-1]} == {e.name for e in shown}
    assert lines[-1] == wrong_account_line(elsewhere)

    data = json.loads(run(aws, path, "services", "--all", "--output", "json").stdout)
    assert {s["environment"] for s in data["services"]} == {e.name for e in shown}
    assert [(e["environment"], e["reachable"]) for e in data["environments"]] == [
        (e.name, e is not elsewhere) for e in envs
    ]


def test_a_missing_profile_is_one_line_and_the_other_environments_are_shown(aws, tmp_path):
    first = next(iter(config.load().environments))
    path = config_across_accounts(tmp_path, **{first: 'profile = "nowhere"'})
    envs = list(config.load(path).environments.values())
    r = run(aws, path, "status", "--all")
    assert r.exit_code == 1
    assert (
        f"{first}: not reached: AWS profile 'nowhere' not found; check ~/.aws/config or drop "
        "--profile"
    ) in r.stdout.splitlines()
    assert [line.split()[0] for line in r.stdout.splitlines()[1:]][: len(envs) - 2] == [
        e.name for e in envs[2:]
    ]


def test_with_every_environment_in_reach_none_is_reported_as_not_reached(aws, platform):
    """Every environment in the caller's account: one row each, none deployed (exit 1), no
    "not reached" line."""
    r = deploy(aws, "status", "--all")
    assert r.exit_code == 1
    assert "not reached" not in r.output
    assert len(r.stdout.splitlines()) == 1 + len(platform.environments)


# -- what counts as not reached ---------------------------------------------------------------


@pytest.fixture
def two_contexts(moto_config) -> list[DeployContext]:
    names = list(config.load(moto_config).environments)[:2]
    return [DeployContext(name, None, None, None, "text", moto_config) for name in names]


def test_access_denied_and_missing_credentials_are_each_one_line(two_contexts):
    # AWS's answer to a DescribeStacks the credentials' role may not make.
    denied = ClientError(
        {
            "Error": {
                "Code": "AccessDenied",
                "Message": "User: arn:aws:sts::111111111111:assumed-role/ci/x is not authorized "
                "to perform: cloudformation:DescribeStacks",
            }
        },
        "DescribeStacks",
    )
    failures = iter([denied, NoCredentialsError()])

    def read(ctx: DeployContext) -> str:
        raise next(failures)

    found = each(two_contexts, read)
    names = [c.env.name for c in two_contexts]
    assert found == [
        Unreached(
            names[0],
            "access denied to DescribeStacks: User: arn:aws:sts::111111111111:assumed-role/ci/x "
            "is not authorized to perform: cloudformation:DescribeStacks; the credentials' role "
            "needs that permission",
        ),
        Unreached(
            names[1],
            "no AWS credentials found; use --profile, set AWS_PROFILE, or export "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        ),
    ]


def test_a_bug_is_not_taken_for_an_unreachable_environment(two_contexts):
    def read(ctx: DeployContext) -> str:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        each(two_contexts, read)
