"""The safety envelope (issue 14) in every environment's templates and in the configuration:
rollback alarms, HTTPS, encryption and audit trails, hardened containers, the account, the
Guard suppressions and their reasons. Environments and services come from the configuration;
where a behaviour needs a value the configuration does not use (KMS off, a certificate ARN, a
newer region), the test edits a copy (`raw`) and builds from it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cfn import config, config_safety, lint, naming, render
from cfn.render import RenderedTemplate
from cfn.stacks import alarms, audit, bootstrap, cluster, edge
from cfn.stacks import service as service_stack
from tests.conftest import PROJECT_ROOT, problems_of, resources_of

_CONFIG = config.load()
ENV_NAMES = list(_CONFIG.environments)


def built(template) -> dict[str, Any]:
    return json.loads(render.to_text(template))


def tpl(templates: dict[str, Any], env: config.Environment, logical_id: str) -> dict[str, Any]:
    return templates[f"{env.name}/{naming.template_file(logical_id)}"]


def service_templates(templates, env):
    for s in env.services:
        yield s, tpl(templates, env, naming.service_stack_id(s))


@pytest.fixture(params=ENV_NAMES)
def env(request, platform) -> config.Environment:
    return platform.env(request.param)


# -- 1. rollback alarms ------------------------------------------------------------------------


def test_load_balancer_5xx_alarm_from_config(env, templates):
    t = tpl(templates, env, naming.EDGE)
    alarm = t["Resources"]["Alb5xxAlarm"]["Properties"]
    assert alarm["AlarmName"] == naming.alb_5xx_alarm(env)
    assert alarm["Threshold"] == env.alarm_5xx_per_minute
    assert alarm["EvaluationPeriods"] == env.alarm_evaluation_minutes
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in metrics.values() if "MetricStat" in m}
    # The load balancer's own 5xx and the targets' (an app that serves errors) both count.
    assert names == {"HTTPCode_ELB_5XX_Count", "HTTPCode_Target_5XX_Count"}
    assert [m["Id"] for m in metrics.values() if m["ReturnData"]] == ["errors"]
    assert t["Outputs"]["Alb5xxAlarmArn"]["Value"] == {"Fn::GetAtt": ["Alb5xxAlarm", "Arn"]}


def test_each_service_has_unhealthy_targets_and_running_tasks_alarms(env, templates):
    for s, t in service_templates(templates, env):
        unhealthy = t["Resources"]["UnhealthyTargetsAlarm"]["Properties"]
        assert unhealthy["AlarmName"] == naming.unhealthy_targets_alarm(env, s)
        assert unhealthy["MetricName"] == "UnHealthyHostCount"
        assert unhealthy["Threshold"] == env.alarm_unhealthy_targets
        dims = {d["Name"]: d["Value"] for d in unhealthy["Dimensions"]}
        assert dims["TargetGroup"] == {"Fn::GetAtt": ["TargetGroup", "TargetGroupFullName"]}
        tasks = t["Resources"]["RunningTasksAlarm"]["Properties"]
        assert tasks["AlarmName"] == naming.running_tasks_alarm(env, s)
        assert tasks["ComparisonOperator"] == "LessThanThreshold"
        size = env.sizing_of(s)
        assert tasks["Threshold"] == (size.min_count if size.autoscaling else size.desired_count)
        dims = {d["Name"]: d["Value"] for d in tasks["Dimensions"]}
        assert dims["ServiceName"] == naming.ecs_service(env, s)
        for name in ("UnhealthyTargetsAlarmArn", "RunningTasksAlarmArn"):
            assert name in t["Outputs"], (s.name, name)


def test_root_composites_cover_every_alarm_and_output_their_arns(env, templates):
    root = templates[f"{env.name}/{naming.ROOT_TEMPLATE}"]
    composites = resources_of(root, "AWS::CloudWatch::CompositeAlarm")
    assert 1 <= len(composites) <= alarms.MAX_TRIGGERS
    named = []
    for _, c in sorted(composites.items()):
        rule = c["Properties"]["AlarmRule"]
        named += [part.removeprefix('ALARM("').removesuffix('")') for part in rule.split(" OR ")]
        # Created after every nested stack holding an alarm it names.
        assert set(c["DependsOn"]) >= {naming.EDGE, *map(naming.service_stack_id, env.services)}
    expected = [naming.alb_5xx_alarm(env)] + [
        name
        for s in env.services
        for name in (naming.unhealthy_targets_alarm(env, s), naming.running_tasks_alarm(env, s))
    ]
    assert named == expected
    output = root["Outputs"][naming.ROLLBACK_ALARMS_OUTPUT]["Value"]
    assert output == {"Fn::Join": [",", [{"Fn::GetAtt": [c, "Arn"]} for c in sorted(composites)]]}


def test_rollback_monitoring_is_config(raw):
    # Protected environments watch a deployment; CloudFormation allows 0 to 180 minutes.
    for env in config.from_dict(raw).environments.values():
        if env.protected:
            assert env.rollback_monitoring_minutes > 0, env.name
    raw["environments"][ENV_NAMES[0]]["rollback_monitoring_minutes"] = 181
    (problem,) = problems_of(raw)
    assert "rollback_monitoring_minutes 181 must be between 0 and 180" in problem


# -- 2. HTTPS ----------------------------------------------------------------------------------


def test_protected_environments_serve_https_only(env, templates):
    t = tpl(templates, env, naming.EDGE)
    if not env.protected and not env.https:
        assert "HttpsListener" not in t["Resources"]
        assert env.allow_http_only and env.http_only_reason
        return
    https = t["Resources"]["HttpsListener"]["Properties"]
    assert https["Port"] == 443 and https["SslPolicy"] == edge.TLS_POLICY
    (redirect,) = t["Resources"]["HttpListener"]["Properties"]["DefaultActions"]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    assert t["Outputs"]["LoadBalancerUrl"]["Value"]["Fn::Join"][1][0] == "https://"


def test_a_domain_gets_a_dns_validated_certificate_and_an_alias_record(env, templates):
    t = tpl(templates, env, naming.EDGE)
    if not env.domain_name:
        assert "Certificate" not in t["Resources"] and "AliasRecord" not in t["Resources"]
        return
    cert = t["Resources"]["Certificate"]["Properties"]
    assert cert["DomainName"] == env.domain_name and cert["ValidationMethod"] == "DNS"
    assert cert["DomainValidationOptions"] == [
        {"DomainName": env.domain_name, "HostedZoneId": env.hosted_zone_id}
    ]
    https = t["Resources"]["HttpsListener"]["Properties"]
    assert https["Certificates"] == [{"CertificateArn": {"Ref": "Certificate"}}]
    record = t["Resources"]["AliasRecord"]["Properties"]
    assert (record["Name"], record["Type"]) == (env.domain_name, "A")
    assert record["HostedZoneId"] == env.hosted_zone_id
    assert record["AliasTarget"]["DNSName"] == {"Fn::GetAtt": ["LoadBalancer", "DNSName"]}


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            {"domain_name": "", "hosted_zone_id": "", "certificate_arn": ""},
            "a protected environment must serve HTTPS",
        ),
        ({"allow_http_only": True, "http_only_reason": "x"}, "allow_http_only is refused"),
        ({"hosted_zone_id": ""}, "domain_name and hosted_zone_id go together"),
        ({"kms_log_encryption": False}, "kms_log_encryption = false is refused in a protected"),
        ({"flow_logs": False, "access_logs": False}, "is refused in a protected environment"),
    ],
    ids=["no-https", "http-opt-out", "domain-without-zone", "kms-off", "trails-off"],
)
def test_a_protected_environment_cannot_leave_the_envelope(raw, change, expected):
    name = next(n for n, e in _CONFIG.environments.items() if e.protected)
    raw["environments"][name].update(change)
    problems = problems_of(raw)
    assert any(expected in p and p.startswith(f"environment {name}:") for p in problems), problems


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"allow_http_only": False}, "no HTTPS configured"),
        ({"http_only_reason": " "}, "allow_http_only needs http_only_reason"),
        ({"flow_logs": False, "cost_opt_out_reason": ""}, "needs cost_opt_out_reason"),
        ({"account_id": "12345"}, "account_id '12345' must be a 12-digit AWS account id"),
        (
            {"deploy_role_arn": "arn:aws:iam::999999999999:role/deploy"},
            "deploy_role_arn is in account 999999999999",
        ),
        ({"profile": "dev", "deploy_role_arn": "SAME_ACCOUNT_ROLE"}, "not both"),
    ],
    ids=["no-https-no-opt-out", "no-reason", "no-cost-reason", "account", "role", "both"],
)
def test_a_non_protected_environment_opts_out_explicitly(raw, change, expected):
    name = next(n for n, e in _CONFIG.environments.items() if not e.protected and not e.https)
    table = raw["environments"][name]
    if change.get("deploy_role_arn") == "SAME_ACCOUNT_ROLE":
        change = {**change, "deploy_role_arn": f"arn:aws:iam::{table['account_id']}:role/deploy"}
    table.update(change)
    problems = problems_of(raw)
    assert any(expected in p for p in problems), problems


def test_prod_like_environments_still_hold_example_values_that_plan_must_refuse(platform):
    # The example configuration builds green, and says which values are placeholders.
    for env in platform.environments.values():
        found = config_safety.example_values(env)
        if env.domain_name:
            assert found == [
                f"domain_name {env.domain_name!r} is a reserved example domain",
                f"hosted_zone_id {env.hosted_zone_id!r} is a made-up example zone",
            ]
    assert config_safety.is_example_domain("app.example.org")
    assert not config_safety.is_example_domain("insightxi.com")


# -- 3. encryption and audit trails -------------------------------------------------------------


def test_log_groups_are_encrypted_with_the_environments_key(env, templates):
    c = tpl(templates, env, naming.CLUSTER)
    root = templates[f"{env.name}/{naming.ROOT_TEMPLATE}"]
    if not env.kms_log_encryption:
        assert not resources_of(c, "AWS::KMS::Key")
        return
    (key,) = resources_of(c, "AWS::KMS::Key").values()
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == ("Retain" if env.retain_stateful_resources else "Delete")
    (admin, logs) = key["Properties"]["KeyPolicy"]["Statement"]
    assert admin["Principal"]["AWS"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    ]
    assert logs["Principal"] == {"Service": [{"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}]}
    context = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert context == {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
    }
    for s, t in service_templates(templates, env):
        props = t["Resources"]["LogGroup"]["Properties"]
        assert props["KmsKeyId"] == {"Ref": naming.LOGS_KEY_PARAMETER}
        passed = root["Resources"][naming.service_stack_id(s)]["Properties"]["Parameters"]
        assert passed[naming.LOGS_KEY_PARAMETER] == {
            "Fn::GetAtt": [naming.CLUSTER, f"Outputs.{naming.LOGS_KEY_PARAMETER}"]
        }


def test_access_logs_go_to_the_bootstrap_logs_bucket(env, templates):
    boot = templates[f"{env.name}/{naming.BOOTSTRAP_TEMPLATE}"]
    alb = tpl(templates, env, naming.EDGE)["Resources"]["LoadBalancer"]["Properties"]
    attrs = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    artifacts = boot["Resources"]["ArtifactsBucket"]["Properties"]
    if not env.access_logs:
        assert "LogsBucket" not in boot["Resources"] and "access_logs.s3.enabled" not in attrs
        assert "LoggingConfiguration" not in artifacts
        return
    assert attrs["access_logs.s3.enabled"] == "true"
    assert attrs["access_logs.s3.bucket"] == {"Fn::Sub": naming.logs_bucket(env)}
    bucket = boot["Resources"]["LogsBucket"]
    props = bucket["Properties"]
    assert props["BucketName"] == {"Fn::Sub": naming.logs_bucket(env)}
    # ALB access logs accept SSE-S3 only.
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert all(props["PublicAccessBlockConfiguration"].values())
    (expire,) = props["LifecycleConfiguration"]["Rules"]
    assert expire["ExpirationInDays"] == env.access_log_expiration_days
    assert bucket["DeletionPolicy"] == ("Retain" if env.retain_stateful_resources else "Delete")
    assert artifacts["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "LogsBucket"}
    statements = {
        s["Sid"]: s
        for s in boot["Resources"]["LogsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    }
    assert statements["DenyInsecureTransport"]["Effect"] == "Deny"
    elb_account = audit.ELB_ACCOUNTS[env.region]
    assert statements["LoadBalancerAccessLogs"]["Principal"] == {
        "AWS": [f"arn:aws:iam::{elb_account}:root"]
    }


def test_a_newer_region_grants_the_elb_log_delivery_service(raw):
    name = next(n for n, e in _CONFIG.environments.items() if e.access_logs)
    raw["environments"][name]["region"] = "ap-southeast-4"  # opened after August 2022
    assert "ap-southeast-4" not in audit.ELB_ACCOUNTS
    t = built(bootstrap.build(config.from_dict(raw).env(name)))
    statements = t["Resources"]["LogsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (elb,) = [s for s in statements if s["Sid"] == "LoadBalancerAccessLogs"]
    assert elb["Principal"] == {"Service": [audit.ELB_LOG_DELIVERY]}


def test_vpc_flow_logs_with_retention_and_a_least_privilege_role(env, templates):
    c = tpl(templates, env, naming.CLUSTER)
    if not env.flow_logs:
        assert not resources_of(c, "AWS::EC2::FlowLog")
        return
    (flow,) = resources_of(c, "AWS::EC2::FlowLog").values()
    assert flow["Properties"]["ResourceId"] == {"Ref": "VpcId"}
    group = c["Resources"]["FlowLogGroup"]
    assert group["Properties"]["LogGroupName"] == naming.flow_log_group(env)
    assert group["Properties"]["RetentionInDays"] == env.log_retention_days
    assert ("KmsKeyId" in group["Properties"]) == env.kms_log_encryption
    assert group["DeletionPolicy"] == ("Retain" if env.retain_stateful_resources else "Delete")
    role = c["Resources"]["FlowLogsRole"]["Properties"]
    (statement,) = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == [{"Fn::GetAtt": ["FlowLogGroup", "Arn"]}]
    assert all(not a.endswith("*") for a in statement["Action"])


def test_dev_may_turn_kms_off_and_still_lint_clean_with_the_opt_out_recorded(raw):
    name = next(n for n, e in _CONFIG.environments.items() if not e.protected)
    raw["environments"][name].update(kms_log_encryption=False, cost_opt_out_reason="cheap")
    env = config.from_dict(raw).env(name)
    s = env.services[0]
    t = built(service_stack.build(env, s))
    assert "KmsKeyId" not in t["Resources"]["LogGroup"]["Properties"]
    assert t["Metadata"]["InsightXI"]["OptOuts"]["KmsLogEncryption"] == "cheap"
    assert not resources_of(built(cluster.build(env)), "AWS::KMS::Key")
    text = json.dumps(t, indent=2)
    found = lint.lint([RenderedTemplate(name, "svc.json", text, env.region)], cache_dir=None)
    assert found == [], found
    # The same template without the recorded opt-out is a finding.
    del t["Metadata"]["InsightXI"]["OptOuts"]
    text = json.dumps(t, indent=2)
    found = lint.lint([RenderedTemplate(name, "svc.json", text, env.region)], cache_dir=None)
    assert {f.rule_id for f in found} == {"E9014"}


def test_template_metadata_says_protected_and_the_opt_outs(env, templates):
    for path, t in templates.items():
        if not path.startswith(f"{env.name}/"):
            continue
        meta = t["Metadata"]["InsightXI"]
        assert meta["Protected"] is env.protected
        opt_outs = meta.get("OptOuts", {})
        assert ("FlowLogs" in opt_outs) == (not env.flow_logs)
        assert ("AccessLogs" in opt_outs) == (not env.access_logs)
        assert ("HttpsOnly" in opt_outs) == env.allow_http_only
        assert all(reason.strip() for reason in opt_outs.values())


# -- 4. hardened containers ---------------------------------------------------------------------


def test_containers_run_non_root_read_only_with_a_memory_limit(env, templates):
    for s, t in service_templates(templates, env):
        task = t["Resources"]["TaskDefinition"]["Properties"]
        (c,) = task["ContainerDefinitions"]
        assert c["User"] == s.user and not c["User"].startswith("0")
        assert c["ReadonlyRootFilesystem"] is True
        assert c["Memory"] == env.sizing_of(s).memory == int(task["Memory"])
        mounts = {m["ContainerPath"]: m["SourceVolume"] for m in c.get("MountPoints", [])}
        assert set(mounts) == set(s.writable_paths)
        assert {v["Name"] for v in task.get("Volumes", [])} == set(mounts.values())


def test_a_root_user_or_a_writable_root_is_a_config_error(raw):
    raw["services"][0]["user"] = "0:0"
    raw["services"][1]["writable_paths"] = ["/"]
    problems = problems_of(raw)
    first, second = raw["services"][0]["name"], raw["services"][1]["name"]
    assert any(
        p.startswith(f"service {first}:") and "runs the container as root" in p for p in problems
    )
    assert any(p.startswith(f"service {second}:") and "may not include '/'" in p for p in problems)


# -- Guard suppressions and the README ------------------------------------------------------------


def suppressions(templates) -> dict[str, set[str]]:
    """Control id -> the reasons given for suppressing it, over every rendered template."""
    found: dict[str, set[str]] = {}
    for t in templates.values():
        for res in t["Resources"].values():
            meta = res.get("Metadata", {})
            rules = meta.get("guard", {}).get("SuppressedRules", [])
            reasons = meta.get("InsightXI", {}).get("GuardSuppressionReasons", {})
            assert set(rules) == set(reasons), res
            for rule in rules:
                assert reasons[rule].strip()
                found.setdefault(rule, set()).add(reasons[rule])
    return found


def test_every_guard_suppression_has_a_reason_and_is_in_the_readme(templates):
    found = suppressions(templates)
    assert found, "no suppression at all: the README's list would be empty"
    readme = (PROJECT_ROOT / "README.md").read_text()
    safety = readme[readme.index("## Safety") :]
    for rule in found:
        assert f"`{rule}`" in safety, rule


def test_short_log_retention_is_suppressed_with_its_reason(env, templates):
    for _, t in service_templates(templates, env):
        meta = t["Resources"]["LogGroup"].get("Metadata", {})
        suppressed = meta.get("guard", {}).get("SuppressedRules", [])
        assert ("CT.CLOUDWATCH.PR.2" in suppressed) == (env.log_retention_days < 365)


def test_the_rules_catch_the_envelope_broken_in_a_rendered_template(platform, templates):
    env = next(e for e in platform.environments.values() if e.protected)
    edge_t = json.loads(json.dumps(tpl(templates, env, naming.EDGE)))
    edge_t["Resources"]["HttpListener"]["Properties"]["DefaultActions"] = [
        {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}
    ]
    root = json.loads(json.dumps(templates[f"{env.name}/{naming.ROOT_TEMPLATE}"]))
    del root["Outputs"][naming.ROLLBACK_ALARMS_OUTPUT]
    broken = [
        RenderedTemplate(env.name, name, json.dumps(t, indent=2), env.region)
        for name, t in (("edge.json", edge_t), ("root.json", root))
    ]
    found = {(f.path.rsplit("/", 1)[-1], f.rule_id) for f in lint.lint(broken, cache_dir=None)}
    assert found == {("edge.json", "E9016"), ("root.json", "E9017")}
