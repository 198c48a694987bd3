"""The platform in every environment's templates: what the seed asks for is there, wired, and
nothing is in the wrong place."""

from __future__ import annotations

import json
import re

import pytest

from cfn import config, lint, naming, render
from tests.conftest import resources_of

ENVS = ["dev", "staging", "prod"]
SERVICES = ["sportmonks-service", "database-service", "orchestrator-service"]


def walk(node, path=()):
    """Every (path, value) in a JSON tree."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, (*path, i))


@pytest.fixture(params=[(e, s) for e in ENVS for s in SERVICES], ids=lambda p: f"{p[0]}-{p[1]}")
def svc(request, platform, templates):
    env_name, service_name = request.param
    env = platform.env(env_name)
    return env, env.service(service_name), templates[f"{env_name}/{service_name}.json"]


# -- edge ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("env_name", ENVS)
def test_alb_is_public_with_its_own_security_group_and_a_404_default(env_name, platform, templates):
    env, t = platform.env(env_name), templates[f"{env_name}/edge.json"]
    alb = t["Resources"]["LoadBalancer"]["Properties"]
    assert alb["Scheme"] == "internet-facing" and alb["Subnets"] == {"Ref": "PublicSubnetIds"}
    assert alb["Name"] == f"insightxi-{env_name}-alb"
    attrs = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attrs["deletion_protection.enabled"] == str(env.alb_deletion_protection).lower()
    assert attrs["routing.http.drop_invalid_header_fields.enabled"] == "true"
    sg = t["Resources"]["LoadBalancerSecurityGroup"]["Properties"]
    assert sorted((r["FromPort"], r["CidrIp"]) for r in sg["SecurityGroupIngress"]) == [
        (80, "0.0.0.0/0"),
        (443, "0.0.0.0/0"),
    ]
    # Egress only into the VPC, only on the services' ports.
    (egress,) = sg["SecurityGroupEgress"]
    assert (egress["FromPort"], egress["ToPort"], egress["CidrIp"]) == (
        8000,
        8002,
        {"Ref": "VpcCidr"},
    )
    (default,) = t["Resources"]["HttpListener"]["Properties"]["DefaultActions"]
    assert default["Type"] == "fixed-response"
    assert default["FixedResponseConfig"]["StatusCode"] == "404"
    assert set(t["Outputs"]) == {
        "ListenerArn",
        "LoadBalancerSecurityGroupId",
        "LoadBalancerDnsName",
        "LoadBalancerFullName",
        "LoadBalancerUrl",
    }


def test_prod_alb_has_deletion_protection(templates):
    alb = templates["prod/edge.json"]["Resources"]["LoadBalancer"]["Properties"]
    attrs = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attrs["deletion_protection.enabled"] == "true"


def test_certificate_turns_on_https_and_http_redirects(raw):
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
    raw["environments"]["staging"]["certificate_arn"] = arn
    env = config.from_dict(raw).env("staging")
    from cfn.stacks import edge

    t = json.loads(render.to_text(edge.build(env)))
    https = t["Resources"]["HttpsListener"]["Properties"]
    assert https["Protocol"] == "HTTPS" and https["Port"] == 443
    assert https["Certificates"] == [{"CertificateArn": arn}]
    assert https["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    (http_default,) = t["Resources"]["HttpListener"]["Properties"]["DefaultActions"]
    assert http_default["Type"] == "redirect"
    assert http_default["RedirectConfig"]["Protocol"] == "HTTPS"
    # Services attach their rules to the HTTPS listener.
    assert t["Outputs"]["ListenerArn"]["Value"] == {"Ref": "HttpsListener"}


# -- cluster ------------------------------------------------------------------------------------


@pytest.mark.parametrize("env_name", ENVS)
def test_cluster_namespace_and_task_security_group(env_name, templates):
    t = templates[f"{env_name}/cluster.json"]
    cluster = t["Resources"]["Cluster"]["Properties"]
    assert cluster["ClusterName"] == f"insightxi-{env_name}-cluster"
    assert {"Name": "containerInsights", "Value": "enabled"} in cluster["ClusterSettings"]
    assert cluster["CapacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    ns = t["Resources"]["Namespace"]
    assert ns["Type"] == "AWS::ServiceDiscovery::PrivateDnsNamespace"
    assert ns["Properties"]["Name"] == "insightxi.local"
    assert ns["Properties"]["Vpc"] == {"Ref": "VpcId"}
    sg = t["Resources"]["ServiceSecurityGroup"]["Properties"]
    assert "SecurityGroupIngress" not in sg  # ingress lives in the service stacks
    internet = [r for r in sg["SecurityGroupEgress"] if r["CidrIp"] == "0.0.0.0/0"]
    assert [(r["FromPort"], r["ToPort"]) for r in internet] == [(443, 443)]


def test_spot_share_is_config(templates):
    def providers(env):
        c = templates[f"{env}/cluster.json"]["Resources"]["Cluster"]["Properties"]
        return [s["CapacityProvider"] for s in c["DefaultCapacityProviderStrategy"]]

    assert providers("dev") == ["FARGATE", "FARGATE_SPOT"]
    assert providers("prod") == ["FARGATE"]


# -- services -----------------------------------------------------------------------------------


def test_log_group_named_per_service_with_retention(svc):
    env, service, t = svc
    (lg,) = resources_of(t, "AWS::Logs::LogGroup").values()
    assert lg["Properties"]["LogGroupName"] == f"/ecs/insightxi-{env.name}/{service.name}"
    assert lg["Properties"]["RetentionInDays"] == env.log_retention_days
    expected = "Retain" if env.retain_stateful_resources else "Delete"
    assert lg["DeletionPolicy"] == lg["UpdateReplacePolicy"] == expected


def test_roles_trust_ecs_tasks_of_this_account_only(svc):
    _, _, t = svc
    for name in ("ExecutionRole", "TaskRole"):
        (stmt,) = t["Resources"][name]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert stmt["Principal"] == {"Service": ["ecs-tasks.amazonaws.com"]}
        assert stmt["Action"] == ["sts:AssumeRole"]
        assert stmt["Condition"]["StringEquals"]["aws:SourceAccount"] == {
            "Fn::Sub": "${AWS::AccountId}"
        }


def test_execution_role_reads_exactly_its_own_secrets(svc):
    env, service, t = svc
    role = t["Resources"]["ExecutionRole"]["Properties"]
    managed = "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    assert role["ManagedPolicyArns"] == [{"Fn::Sub": managed}]
    resources = [
        r["Fn::Sub"]
        for p in role.get("Policies", [])
        for s in p["PolicyDocument"]["Statement"]
        for r in s["Resource"]
    ]
    expected = [
        "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
        f"insightxi/{env.name}/{service.name}/{v}-??????"
        for v in service.secrets
    ]
    assert resources == expected


def test_task_role_grants_nothing_by_default(svc):
    _, _, t = svc
    assert t["Resources"]["TaskRole"]["Properties"]["Policies"] == []


def test_task_definition_is_fargate_sized_from_config(svc):
    env, service, t = svc
    size = env.sizing_of(service)
    td = t["Resources"]["TaskDefinition"]["Properties"]
    assert td["NetworkMode"] == "awsvpc" and td["RequiresCompatibilities"] == ["FARGATE"]
    assert (td["Cpu"], td["Memory"]) == (str(size.cpu), str(size.memory))
    assert (int(td["Cpu"]), int(td["Memory"])) in {
        (c, m) for c, ms in config.FARGATE_SIZES.items() for m in ms
    }
    (c,) = td["ContainerDefinitions"]
    assert c["Name"] == service.name
    assert c["Image"] == {
        "Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/"
        f"{service.repository}:${{ImageTag}}"
    }
    assert c["PortMappings"] == [{"ContainerPort": service.port, "Name": "http", "Protocol": "tcp"}]
    assert c["LogConfiguration"] == {
        "LogDriver": "awslogs",
        "Options": {
            "awslogs-group": {"Ref": "LogGroup"},
            "awslogs-region": {"Ref": "AWS::Region"},
            "awslogs-stream-prefix": "ecs",
        },
    }


def test_prod_orchestrator_is_bigger(templates):
    td = templates["prod/orchestrator-service.json"]["Resources"]["TaskDefinition"]["Properties"]
    assert (td["Cpu"], td["Memory"]) == ("512", "1024")
    td = templates["dev/orchestrator-service.json"]["Resources"]["TaskDefinition"]["Properties"]
    assert (td["Cpu"], td["Memory"]) == ("256", "512")


@pytest.mark.parametrize("env_name", ENVS)
def test_sportmonks_gets_base_url_and_api_key_from_secrets_manager(env_name, templates):
    t = templates[f"{env_name}/sportmonks-service.json"]
    (c,) = t["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    assert c["Environment"] == [{"Name": "BASE_URL", "Value": "https://api.sportmonks.com/v3"}]
    assert c["Secrets"] == [
        {
            "Name": "API_KEY",
            "ValueFrom": {
                "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:"
                f"secret:insightxi/{env_name}/sportmonks-service/API_KEY"
            },
        }
    ]


@pytest.mark.parametrize("env_name", ENVS)
def test_orchestrator_reaches_the_others_by_discovery_name(env_name, templates):
    t = templates[f"{env_name}/orchestrator-service.json"]
    (c,) = t["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    assert {e["Name"]: e["Value"] for e in c["Environment"]} == {
        "SPORTMONKS_URL": "http://sportmonks.insightxi.local:8000",
        "DATABASE_URL": "http://database.insightxi.local:8001",
    }


def test_target_group_and_listener_rule(svc):
    env, service, t = svc
    size = env.sizing_of(service)
    tg = t["Resources"]["TargetGroup"]["Properties"]
    assert tg["TargetType"] == "ip" and tg["Port"] == service.port
    assert tg["HealthCheckPath"] == service.health_check_path
    assert tg["HealthyThresholdCount"] == size.healthy_threshold
    assert tg["UnhealthyThresholdCount"] == size.unhealthy_threshold
    assert {
        "Key": "deregistration_delay.timeout_seconds",
        "Value": str(size.deregistration_delay_seconds),
    } in tg["TargetGroupAttributes"]
    assert len(tg["Name"]) <= 32
    rule = t["Resources"]["ListenerRule"]["Properties"]
    assert rule["Priority"] == service.listener_priority
    assert rule["Conditions"][0]["PathPatternConfig"]["Values"] == list(service.path_patterns)
    assert rule["Actions"] == [{"TargetGroupArn": {"Ref": "TargetGroup"}, "Type": "forward"}]


@pytest.mark.parametrize("env_name", ENVS)
def test_listener_priorities_unique_and_catch_all_last(env_name, templates):
    rules = {
        s: templates[f"{env_name}/{s}.json"]["Resources"]["ListenerRule"]["Properties"]
        for s in SERVICES
    }
    priorities = [r["Priority"] for r in rules.values()]
    assert len(set(priorities)) == len(priorities)
    catch_all = [
        s for s, r in rules.items() if "/*" in r["Conditions"][0]["PathPatternConfig"]["Values"]
    ]
    assert catch_all == ["orchestrator-service"]
    assert rules["orchestrator-service"]["Priority"] == max(priorities)


def test_ecs_service_private_no_public_ip_with_rollback_and_discovery(svc):
    _, service, t = svc
    s = t["Resources"]["Service"]
    p = s["Properties"]
    net = p["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert net["AssignPublicIp"] == "DISABLED"
    assert net["Subnets"] == {"Ref": "PrivateSubnetIds"}
    assert net["SecurityGroups"] == [{"Ref": "ServiceSecurityGroupId"}]
    assert p["LoadBalancers"] == [
        {
            "ContainerName": service.name,
            "ContainerPort": service.port,
            "TargetGroupArn": {"Ref": "TargetGroup"},
        }
    ]
    assert p["ServiceRegistries"] == [{"RegistryArn": {"Fn::GetAtt": ["DiscoveryService", "Arn"]}}]
    breaker = p["DeploymentConfiguration"]["DeploymentCircuitBreaker"]
    assert breaker == {"Enable": True, "Rollback": True}
    assert p["HealthCheckGracePeriodSeconds"] > 0
    assert p["PropagateTags"] == "SERVICE"
    assert s["DependsOn"] == ["ListenerRule"]
    # Autoscaling owns the count: a deploy must not reset a scaled-out service.
    assert "DesiredCount" not in p
    d = t["Resources"]["DiscoveryService"]["Properties"]
    assert d["Name"] == service.discovery_name
    assert d["DnsConfig"]["DnsRecords"] == [{"TTL": 10, "Type": "A"}]


def test_cpu_target_tracking_between_config_bounds(svc):
    env, service, t = svc
    size = env.sizing_of(service)
    target = t["Resources"]["ScalableTarget"]["Properties"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (size.min_count, size.max_count)
    assert target["ResourceId"] == {"Fn::Sub": "service/${ClusterName}/${Service.Name}"}
    assert target["ScalableDimension"] == "ecs:service:DesiredCount"
    policy = t["Resources"]["CpuScalingPolicy"]["Properties"]
    cfg = policy["TargetTrackingScalingPolicyConfiguration"]
    assert cfg["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
    }
    assert cfg["TargetValue"] == 70.0
    assert cfg["ScaleInCooldown"] > 0 and cfg["ScaleOutCooldown"] > 0


@pytest.mark.parametrize("env_name", ENVS)
def test_service_ports_open_only_to_the_alb_and_the_services(env_name, templates):
    t = templates[f"{env_name}/cluster.json"]
    rules = resources_of(t, "AWS::EC2::SecurityGroupIngress")
    assert {
        k: (
            r["Properties"]["SourceSecurityGroupId"]["Ref"],
            r["Properties"]["FromPort"],
            r["Properties"]["ToPort"],
            r["Properties"]["GroupId"]["Ref"],
        )
        for k, r in rules.items()
    } == {
        "IngressFromLoadBalancer": (
            "LoadBalancerSecurityGroupId",
            8000,
            8002,
            "ServiceSecurityGroup",
        ),
        "IngressFromServices": ("ServiceSecurityGroup", 8000, 8002, "ServiceSecurityGroup"),
    }
    # One rule per direction whatever the number of services (60-rule quota per group).
    sg = t["Resources"]["ServiceSecurityGroup"]["Properties"]
    assert len(sg["SecurityGroupEgress"]) == 2


# -- root wiring --------------------------------------------------------------------------------


@pytest.mark.parametrize("env_name", ENVS)
def test_root_has_an_image_tag_per_service_without_default(env_name, templates):
    root = templates[f"{env_name}/root.json"]
    tags = {k: v for k, v in root["Parameters"].items() if k.endswith("ImageTag")}
    assert set(tags) == {
        "SportmonksServiceImageTag",
        "DatabaseServiceImageTag",
        "OrchestratorServiceImageTag",
    }
    for p in tags.values():
        assert "Default" not in p
        assert not re.match(p["AllowedPattern"], "latest")
        assert re.match(p["AllowedPattern"], "3f9c2ab")


@pytest.mark.parametrize("env_name", ENVS)
def test_every_nested_stack_gets_exactly_the_parameters_its_template_declares(env_name, templates):
    root = templates[f"{env_name}/root.json"]
    stacks = resources_of(root, "AWS::CloudFormation::Stack")
    assert set(stacks) == {
        "Network",
        "Edge",
        "Cluster",
        "SportmonksService",
        "DatabaseService",
        "OrchestratorService",
    }
    for logical_id, stack in stacks.items():
        nested = templates[f"{env_name}/{naming.template_file(logical_id)}"]
        passed = set(stack["Properties"].get("Parameters", {}))
        declared = set(nested.get("Parameters", {}))
        required = {k for k, v in nested.get("Parameters", {}).items() if "Default" not in v}
        assert required <= passed <= declared, logical_id
        # Each output the root reads from a nested stack exists there.
        for _, value in walk(stack["Properties"].get("Parameters", {})):
            if isinstance(value, dict) and "Fn::GetAtt" in value:
                source, attr = value["Fn::GetAtt"]
                assert (
                    attr.removeprefix("Outputs.")
                    in templates[f"{env_name}/{naming.template_file(source)}"]["Outputs"]
                )


def test_root_outputs_the_platform_url(templates):
    assert templates["prod/root.json"]["Outputs"]["LoadBalancerUrl"]["Value"] == {
        "Fn::GetAtt": ["Edge", "Outputs.LoadBalancerUrl"]
    }


# -- nothing in the wrong place, in any template -----------------------------------------------

_SECRETISH = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL", re.I)


def test_no_literal_secret_in_any_container_environment(templates):
    for path, t in templates.items():
        for name, td in resources_of(t, "AWS::ECS::TaskDefinition").items():
            for c in td["Properties"]["ContainerDefinitions"]:
                for e in c.get("Environment", []):
                    assert not _SECRETISH.search(e["Name"]), f"{path} {name}: {e['Name']}"


def test_no_task_gets_a_public_ip(templates):
    for path, t in templates.items():
        for name, s in resources_of(t, "AWS::ECS::Service").items():
            cfg = s["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
            assert cfg["AssignPublicIp"] == "DISABLED", f"{path} {name}"


def test_no_iam_wildcard_actions(templates):
    # Allow statements only: the artifacts bucket's Deny of s3:* without TLS is the point.
    allows = 0
    for path, t in templates.items():
        for p, value in walk(t):
            if isinstance(value, dict) and value.get("Effect") == "Allow" and "Action" in value:
                allows += 1
                actions = (
                    value["Action"] if isinstance(value["Action"], list) else [value["Action"]]
                )
                for a in actions:
                    assert a != "*" and not a.endswith(":*"), f"{path} {p}: {a}"
    assert allows > 0


def test_internet_ingress_only_on_the_alb_80_and_443(templates):
    for path, t in templates.items():
        for p, value in walk(t):
            if (
                isinstance(value, dict)
                and value.get("CidrIp") in ("0.0.0.0/0",)
                and ("SecurityGroupIngress" in p)
            ):
                assert path.endswith("/edge.json") and value["FromPort"] in (80, 443), (path, p)
        for name, r in resources_of(t, "AWS::EC2::SecurityGroupIngress").items():
            assert "CidrIp" not in r["Properties"], f"{path} {name}"


def test_every_log_group_has_retention(templates):
    groups = 0
    for t in templates.values():
        for lg in resources_of(t, "AWS::Logs::LogGroup").values():
            assert lg["Properties"]["RetentionInDays"] in config.LOG_RETENTION_DAYS
            groups += 1
    assert groups == len(ENVS) * len(SERVICES)


def test_every_template_parameter_and_output_has_a_description(templates):
    for path, t in templates.items():
        assert t["Description"], path
        for section in ("Parameters", "Outputs"):
            for name, item in t.get(section, {}).items():
                assert item.get("Description"), f"{path} {section}.{name}"


# -- a fourth service is a config change only --------------------------------------------------


def test_a_fourth_service_is_a_config_change_only(raw):
    raw["services"].append(
        {
            "name": "billing-service",
            "discovery_name": "billing",
            "port": 8003,
            "repository": "billing-service",
            "health_check_path": "/health",
            "path_patterns": ["/billing/*"],
            "listener_priority": 300,
            "environment": {"CURRENCY": "EUR"},
            "secrets": ["STRIPE_TOKEN"],
        }
    )
    platform = config.from_dict(raw)
    rendered = render.render(platform, ["prod"])
    by_path = {r.path: json.loads(r.text) for r in rendered}
    t = by_path["prod/billing-service.json"]
    (c,) = t["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    assert c["Name"] == "billing-service"
    assert c["Secrets"][0]["ValueFrom"]["Fn::Sub"].endswith(
        ":secret:insightxi/prod/billing-service/STRIPE_TOKEN"
    )
    root = by_path["prod/root.json"]
    assert "BillingServiceImageTag" in root["Parameters"]
    assert root["Resources"]["BillingService"]["Properties"]["Parameters"]["ImageTag"] == {
        "Ref": "BillingServiceImageTag"
    }
    edge = by_path["prod/edge.json"]["Resources"]["LoadBalancerSecurityGroup"]["Properties"]
    assert edge["SecurityGroupEgress"][0]["ToPort"] == 8003
    findings = lint.lint(rendered)
    assert findings == [], "\n".join(map(str, findings))


def test_readme_environments_table_matches_the_config(platform):
    from cfn import docs
    from tests.conftest import PROJECT_ROOT

    readme = (PROJECT_ROOT / "README.md").read_text()
    assert docs.environments_table(platform) in readme, "run `python -m cfn.docs` and paste"


@pytest.mark.parametrize("env_name", ENVS)
def test_artifacts_bucket_is_versioned_encrypted_private_and_tls_only(env_name, templates):
    t = templates[f"{env_name}/bootstrap.json"]
    bucket = t["Resources"]["ArtifactsBucket"]
    p = bucket["Properties"]
    assert p["BucketName"] == {
        "Fn::Sub": f"insightxi-{env_name}-artifacts-${{AWS::AccountId}}-${{AWS::Region}}"
    }
    assert p["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert p["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (lifecycle,) = p["LifecycleConfiguration"]["Rules"]
    assert lifecycle["Status"] == "Enabled"
    assert lifecycle["NoncurrentVersionExpiration"]["NoncurrentDays"] > 0
    assert bucket["DeletionPolicy"] == "Retain"
    (deny,) = t["Resources"]["ArtifactsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [
        {"Fn::GetAtt": ["ArtifactsBucket", "Arn"]},
        {"Fn::Sub": "${ArtifactsBucket.Arn}/*"},
    ]
