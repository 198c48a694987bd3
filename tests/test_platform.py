"""The platform in every environment's templates: what the seed asks for is there, wired, and
nothing is in the wrong place.

The environments and services come from the configuration, never from a list here: adding a
service to cfn/insightxi.toml and running bin/build-templates keeps these tests green. Where a
behaviour needs a feature the configuration may not use (secrets, dependencies, overrides, a
certificate, task-role permissions, fixed counts), the test gives it to a copy of the
configuration (the `raw` fixture) and builds from that."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from cfn import config, docs, lint, naming, render
from cfn.stacks import cluster, edge
from cfn.stacks import service as service_stack
from tests.conftest import PROJECT_ROOT, resources_of

# Read at collection time, to name the test cases; the tests themselves use the fixtures.
_CONFIG = config.load()
ENV_NAMES = list(_CONFIG.environments)
SERVICE_NAMES = [s.name for s in _CONFIG.services]
SECRET_ARN = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"


def walk(node, path=()):
    """Every (path, value) in a JSON tree."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, (*path, i))


def service_file(service: config.Service) -> str:
    return naming.template_file(naming.service_stack_id(service))


def port_range(env: config.Environment) -> tuple[int, int]:
    ports = [s.port for s in env.services]
    return min(ports), max(ports)


def built(template) -> dict[str, Any]:
    """A template as the build renders it."""
    return json.loads(render.to_text(template))


def service_template(raw: dict[str, Any], env_name: str, service_name: str) -> dict[str, Any]:
    """The service's template in `env_name`, built from the (edited) raw configuration."""
    env = config.from_dict(raw).env(env_name)
    return built(service_stack.build(env, env.service(service_name)))


def container_of(t: dict[str, Any]) -> dict[str, Any]:
    (c,) = t["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    return c


@pytest.fixture(
    params=[(e, s) for e in ENV_NAMES for s in SERVICE_NAMES], ids=lambda p: f"{p[0]}-{p[1]}"
)
def svc(request, platform, templates):
    env_name, service_name = request.param
    env = platform.env(env_name)
    service = env.service(service_name)
    return env, service, templates[f"{env_name}/{service_file(service)}"]


# -- edge ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_alb_is_public_with_its_own_security_group_and_a_404_default(env_name, platform, templates):
    env = platform.env(env_name)
    t = templates[f"{env_name}/{naming.template_file(naming.EDGE)}"]
    alb = t["Resources"]["LoadBalancer"]["Properties"]
    assert alb["Scheme"] == "internet-facing" and alb["Subnets"] == {"Ref": "PublicSubnetIds"}
    assert alb["Name"] == naming.load_balancer(env)
    attrs = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attrs["deletion_protection.enabled"] == str(env.alb_deletion_protection).lower()
    assert attrs["routing.http.drop_invalid_header_fields.enabled"] == (
        str(env.alb_drop_invalid_headers).lower()
    )
    sg = t["Resources"]["LoadBalancerSecurityGroup"]["Properties"]
    assert sorted((r["FromPort"], r["CidrIp"]) for r in sg["SecurityGroupIngress"]) == [
        (80, "0.0.0.0/0"),
        (443, "0.0.0.0/0"),
    ]
    # Egress only into the VPC, only on the services' ports.
    (egress,) = sg["SecurityGroupEgress"]
    assert (egress["FromPort"], egress["ToPort"]) == port_range(env)
    assert egress["CidrIp"] == {"Ref": "VpcCidr"}
    # Services attach their rules to HTTPS when there is a certificate, else to HTTP.
    listener = "HttpsListener" if env.certificate_arn else "HttpListener"
    assert t["Outputs"]["ListenerArn"]["Value"] == {"Ref": listener}
    (default,) = t["Resources"][listener]["Properties"]["DefaultActions"]
    assert default["Type"] == "fixed-response"
    assert default["FixedResponseConfig"]["StatusCode"] == "404"
    assert set(t["Outputs"]) == {
        "ListenerArn",
        "LoadBalancerSecurityGroupId",
        "LoadBalancerDnsName",
        "LoadBalancerFullName",
        "LoadBalancerUrl",
    }


def test_protected_environments_keep_their_load_balancer_and_data(platform, templates):
    # An environment whose deploys ask for confirmation is production-like: a stack mistake
    # there must not delete the ALB, the logs or the namespace.
    protected = [e for e in platform.environments.values() if e.protected]
    assert protected, "no environment asks for confirmation: which one is production?"
    for env in protected:
        edge_t = templates[f"{env.name}/{naming.template_file(naming.EDGE)}"]
        alb = edge_t["Resources"]["LoadBalancer"]["Properties"]
        attrs = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
        assert attrs["deletion_protection.enabled"] == "true", env.name
        assert env.retain_stateful_resources, env.name


@pytest.mark.parametrize("certificate", [True, False], ids=["https", "http-only"])
def test_certificate_turns_on_https_and_http_redirects(raw, certificate):
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
    env_name = next(iter(raw["environments"]))
    raw["environments"][env_name]["certificate_arn"] = arn if certificate else ""
    t = built(edge.build(config.from_dict(raw).env(env_name)))
    (http_default,) = t["Resources"]["HttpListener"]["Properties"]["DefaultActions"]
    if not certificate:
        assert "HttpsListener" not in t["Resources"]
        assert http_default["Type"] == "fixed-response"
        assert t["Outputs"]["ListenerArn"]["Value"] == {"Ref": "HttpListener"}
        return
    https = t["Resources"]["HttpsListener"]["Properties"]
    assert https["Protocol"] == "HTTPS" and https["Port"] == 443
    assert https["Certificates"] == [{"CertificateArn": arn}]
    assert https["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert http_default["Type"] == "redirect"
    assert http_default["RedirectConfig"]["Protocol"] == "HTTPS"
    assert t["Outputs"]["ListenerArn"]["Value"] == {"Ref": "HttpsListener"}


# -- cluster ------------------------------------------------------------------------------------


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_cluster_namespace_and_task_security_group(env_name, platform, templates):
    env = platform.env(env_name)
    t = templates[f"{env_name}/{naming.template_file(naming.CLUSTER)}"]
    props = t["Resources"]["Cluster"]["Properties"]
    assert props["ClusterName"] == naming.cluster(env)
    assert {"Name": "containerInsights", "Value": "enabled"} in props["ClusterSettings"]
    assert props["CapacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    ns = t["Resources"]["Namespace"]
    assert ns["Type"] == "AWS::ServiceDiscovery::PrivateDnsNamespace"
    assert ns["Properties"]["Name"] == env.discovery_namespace
    assert ns["Properties"]["Vpc"] == {"Ref": "VpcId"}
    sg = t["Resources"]["ServiceSecurityGroup"]["Properties"]
    assert "SecurityGroupIngress" not in sg  # separate resources, see below
    internet = [r for r in sg["SecurityGroupEgress"] if r["CidrIp"] == "0.0.0.0/0"]
    assert [(r["FromPort"], r["ToPort"]) for r in internet] == [(443, 443)]


def _strategy(weight: int) -> list[dict[str, Any]]:
    on_demand = [{"Base": 1, "CapacityProvider": "FARGATE", "Weight": 1}]
    return on_demand + ([{"CapacityProvider": "FARGATE_SPOT", "Weight": weight}] if weight else [])


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_spot_share_is_config(env_name, platform, templates):
    env = platform.env(env_name)
    t = templates[f"{env_name}/{naming.template_file(naming.CLUSTER)}"]
    strategy = t["Resources"]["Cluster"]["Properties"]["DefaultCapacityProviderStrategy"]
    assert strategy == _strategy(env.fargate_spot_weight)


@pytest.mark.parametrize("weight", [0, 3])
def test_spot_weight_sets_cluster_and_service_strategy(raw, weight):
    env_name = next(iter(raw["environments"]))
    raw["environments"][env_name]["fargate_spot_weight"] = weight
    env = config.from_dict(raw).env(env_name)
    t = built(cluster.build(env))
    assert t["Resources"]["Cluster"]["Properties"]["DefaultCapacityProviderStrategy"] == (
        _strategy(weight)
    )
    s = built(service_stack.build(env, env.services[0]))
    assert s["Resources"]["Service"]["Properties"]["CapacityProviderStrategy"] == _strategy(weight)


# -- services -----------------------------------------------------------------------------------


def test_log_group_named_per_service_with_retention(svc):
    env, service, t = svc
    (lg,) = resources_of(t, "AWS::Logs::LogGroup").values()
    assert lg["Properties"]["LogGroupName"] == f"/ecs/{env.project}-{env.name}/{service.name}"
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


def _execution_role_secrets(t: dict[str, Any]) -> list[str]:
    role = t["Resources"]["ExecutionRole"]["Properties"]
    managed = "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
    assert role["ManagedPolicyArns"] == [{"Fn::Sub": managed}]
    return [
        r["Fn::Sub"]
        for p in role["Policies"]
        for s in p["PolicyDocument"]["Statement"]
        for r in s["Resource"]
    ]


def test_execution_role_reads_exactly_its_own_secrets(svc):
    env, service, t = svc
    assert _execution_role_secrets(t) == [
        f"{SECRET_ARN}{env.project}/{env.name}/{service.name}/{v}-??????" for v in service.secrets
    ]


def test_container_gets_config_environment_and_secrets_by_name(svc):
    env, service, t = svc
    c = container_of(t)
    expected_env = dict(service.environment)
    for dep in map(env.service, service.depends_on):
        url = f"http://{dep.discovery_name}.{env.discovery_namespace}:{dep.port}"
        expected_env[naming.discovery_url_variable(dep)] = url
    assert c["Environment"] == [{"Name": k, "Value": v} for k, v in sorted(expected_env.items())]
    assert c["Secrets"] == [
        {
            "Name": v,
            "ValueFrom": {"Fn::Sub": f"{SECRET_ARN}{env.project}/{env.name}/{service.name}/{v}"},
        }
        for v in sorted(service.secrets)
    ]


def _service_with(raw: dict[str, Any], key: str, default: Any) -> dict[str, Any]:
    """The first service whose `key` is set in the configuration, or the first service, given
    `default` for it here (so the behaviour is tested whatever the configuration uses)."""
    for s in raw["services"]:
        if s.get(key):
            return s
    raw["services"][0][key] = default
    return raw["services"][0]


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_secrets_come_from_secrets_manager_by_name_never_as_values(raw, env_name):
    s = _service_with(raw, "secrets", ["API_KEY"])
    t = service_template(raw, env_name, s["name"])
    project, names = raw["project"], sorted(s["secrets"])
    where = f"{project}/{env_name}/{s['name']}"
    assert names
    assert container_of(t)["Secrets"] == [
        {"Name": v, "ValueFrom": {"Fn::Sub": f"{SECRET_ARN}{where}/{v}"}} for v in names
    ]
    # The execution role reads exactly these (any version suffix), and nothing else.
    assert sorted(_execution_role_secrets(t)) == [f"{SECRET_ARN}{where}/{v}-??????" for v in names]
    assert all(e["Name"] not in names for e in container_of(t)["Environment"])


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_a_service_reaches_its_dependencies_by_discovery_name(raw, env_name):
    s = _service_with(raw, "depends_on", [raw["services"][-1]["name"]])
    t = service_template(raw, env_name, s["name"])
    env_vars = {e["Name"]: e["Value"] for e in container_of(t)["Environment"]}
    deps = [d for d in raw["services"] if d["name"] in s["depends_on"]]
    assert deps
    for d in deps:
        variable = d["discovery_name"].upper().replace("-", "_") + "_URL"
        assert (
            env_vars[variable]
            == f"http://{d['discovery_name']}.{raw['discovery_namespace']}:{d['port']}"
        )


def test_task_role_grants_only_what_config_lists(svc):
    _, service, t = svc
    policies = t["Resources"]["TaskRole"]["Properties"]["Policies"]
    if not service.task_role_actions:
        assert policies == []
        return
    (policy,) = policies
    (stmt,) = policy["PolicyDocument"]["Statement"]
    assert stmt["Action"] == list(service.task_role_actions)
    assert stmt["Resource"] == list(service.task_role_resources)


def test_task_role_permissions_from_config(raw):
    env_name = next(iter(raw["environments"]))
    s = raw["services"][0]
    s["task_role_actions"] = ["s3:GetObject", "sqs:SendMessage"]
    s["task_role_resources"] = ["arn:aws:s3:::reports/*", "arn:aws:sqs:eu-west-1:123456789012:q"]
    t = service_template(raw, env_name, s["name"])
    (policy,) = t["Resources"]["TaskRole"]["Properties"]["Policies"]
    (stmt,) = policy["PolicyDocument"]["Statement"]
    assert stmt["Effect"] == "Allow"
    assert stmt["Action"] == s["task_role_actions"]
    assert stmt["Resource"] == s["task_role_resources"]


def test_task_definition_is_fargate_sized_from_config(svc):
    env, service, t = svc
    size = env.sizing_of(service)
    td = t["Resources"]["TaskDefinition"]["Properties"]
    assert td["NetworkMode"] == "awsvpc" and td["RequiresCompatibilities"] == ["FARGATE"]
    assert (td["Cpu"], td["Memory"]) == (str(size.cpu), str(size.memory))
    c = container_of(t)
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


def test_a_per_service_override_sizes_only_that_service(raw):
    env_name = next(iter(raw["environments"]))
    before = config.from_dict(raw).env(env_name)
    target = before.services[-1]
    cpu, memory = (2048, 4096) if before.sizing_of(target).cpu == 1024 else (1024, 2048)
    overrides = raw["environments"][env_name].setdefault("services", {})
    overrides.setdefault(target.name, {}).update(cpu=cpu, memory=memory)
    after = config.from_dict(raw).env(env_name)
    for s in after.services:
        td = built(service_stack.build(after, s))["Resources"]["TaskDefinition"]["Properties"]
        unchanged = before.sizing_of(s)
        want = (cpu, memory) if s.name == target.name else (unchanged.cpu, unchanged.memory)
        assert (int(td["Cpu"]), int(td["Memory"])) == want, s.name


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


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_listener_priorities_unique_and_catch_all_last(env_name, platform, templates):
    env = platform.env(env_name)
    rules = {}
    for s in env.services:
        t = templates[f"{env_name}/{service_file(s)}"]
        rules[s.name] = t["Resources"]["ListenerRule"]["Properties"]
    priorities = {name: r["Priority"] for name, r in rules.items()}
    assert len(set(priorities.values())) == len(priorities)
    # The ALB evaluates rules by ascending priority: a catch-all must come after every other.
    catch_all = {
        name
        for name, r in rules.items()
        if "/*" in r["Conditions"][0]["PathPatternConfig"]["Values"]
    }
    for name in catch_all:
        others = [p for n, p in priorities.items() if n not in catch_all]
        assert all(priorities[name] > p for p in others), name


def test_ecs_service_private_no_public_ip_with_rollback_and_discovery(svc):
    env, service, t = svc
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
    if env.sizing_of(service).autoscaling:
        assert "DesiredCount" not in p
    else:
        assert p["DesiredCount"] == env.sizing_of(service).desired_count
    d = t["Resources"]["DiscoveryService"]["Properties"]
    assert d["Name"] == service.discovery_name
    assert d["DnsConfig"]["DnsRecords"] == [{"TTL": 10, "Type": "A"}]


def test_cpu_target_tracking_between_config_bounds(svc):
    env, service, t = svc
    size = env.sizing_of(service)
    if not size.autoscaling:
        assert resources_of(t, "AWS::ApplicationAutoScaling::ScalableTarget") == {}
        return
    target = t["Resources"]["ScalableTarget"]["Properties"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (size.min_count, size.max_count)
    assert target["ResourceId"] == {"Fn::Sub": "service/${ClusterName}/${Service.Name}"}
    assert target["ScalableDimension"] == "ecs:service:DesiredCount"
    policy = t["Resources"]["CpuScalingPolicy"]["Properties"]
    cfg = policy["TargetTrackingScalingPolicyConfiguration"]
    assert cfg["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "ECSServiceAverageCPUUtilization"
    }
    assert cfg["TargetValue"] == float(size.cpu_target_percent)
    assert cfg["ScaleInCooldown"] > 0 and cfg["ScaleOutCooldown"] > 0


def test_without_autoscaling_the_service_runs_its_fixed_count(raw):
    env_name = next(iter(raw["environments"]))
    defaults = raw["environments"][env_name]["service_defaults"]
    defaults.update(autoscaling=False, desired_count=2)
    t = service_template(raw, env_name, raw["services"][0]["name"])
    assert t["Resources"]["Service"]["Properties"]["DesiredCount"] == 2
    assert resources_of(t, "AWS::ApplicationAutoScaling::ScalableTarget") == {}
    assert resources_of(t, "AWS::ApplicationAutoScaling::ScalingPolicy") == {}


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_service_ports_open_only_to_the_alb_and_the_services(env_name, platform, templates):
    low, high = port_range(platform.env(env_name))
    t = templates[f"{env_name}/{naming.template_file(naming.CLUSTER)}"]
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
            low,
            high,
            "ServiceSecurityGroup",
        ),
        "IngressFromServices": ("ServiceSecurityGroup", low, high, "ServiceSecurityGroup"),
    }
    # One rule per direction whatever the number of services (60-rule quota per group).
    sg = t["Resources"]["ServiceSecurityGroup"]["Properties"]
    assert len(sg["SecurityGroupEgress"]) == 2


# -- root wiring --------------------------------------------------------------------------------


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_root_has_an_image_tag_per_service_without_default(env_name, platform, templates):
    env = platform.env(env_name)
    root = templates[f"{env_name}/{naming.ROOT_TEMPLATE}"]
    tags = {k: v for k, v in root["Parameters"].items() if k.endswith("ImageTag")}
    assert set(tags) == {naming.image_tag_parameter(s) for s in env.services}
    for p in tags.values():
        assert "Default" not in p
        assert not re.match(p["AllowedPattern"], "latest")
        assert re.match(p["AllowedPattern"], "3f9c2ab")


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_every_nested_stack_gets_exactly_the_parameters_its_template_declares(
    env_name, platform, templates
):
    env = platform.env(env_name)
    root = templates[f"{env_name}/{naming.ROOT_TEMPLATE}"]
    stacks = resources_of(root, "AWS::CloudFormation::Stack")
    assert set(stacks) == {naming.NETWORK, naming.EDGE, naming.CLUSTER} | {
        naming.service_stack_id(s) for s in env.services
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


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_root_outputs_the_platform_url(env_name, templates):
    root = templates[f"{env_name}/{naming.ROOT_TEMPLATE}"]
    assert root["Outputs"]["LoadBalancerUrl"]["Value"] == {
        "Fn::GetAtt": [naming.EDGE, "Outputs.LoadBalancerUrl"]
    }


# -- nothing in the wrong place, in any template -----------------------------------------------

_SECRETISH = re.compile(r"KEY|SECRET|TOKEN|PASSWORD|CREDENTIAL", re.I)


def test_no_literal_secret_in_any_container_environment(templates):
    for path, t in templates.items():
        for name, td in resources_of(t, "AWS::ECS::TaskDefinition").items():
            for c in td["Properties"]["ContainerDefinitions"]:
                for e in c.get("Environment", []):
                    assert not _SECRETISH.search(e["Name"]), f"{path} {name}: {e['Name']}"


def test_no_task_gets_a_public_ip(platform, templates):
    services = 0
    for path, t in templates.items():
        for name, s in resources_of(t, "AWS::ECS::Service").items():
            cfg = s["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]
            assert cfg["AssignPublicIp"] == "DISABLED", f"{path} {name}"
            services += 1
    assert services == sum(len(e.services) for e in platform.environments.values())


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
    edge_file = naming.template_file(naming.EDGE)
    for path, t in templates.items():
        for p, value in walk(t):
            if (
                isinstance(value, dict)
                and value.get("CidrIp") in ("0.0.0.0/0",)
                and ("SecurityGroupIngress" in p)
            ):
                assert path.endswith(f"/{edge_file}") and value["FromPort"] in (80, 443), (path, p)
        for name, r in resources_of(t, "AWS::EC2::SecurityGroupIngress").items():
            assert "CidrIp" not in r["Properties"], f"{path} {name}"


def test_every_service_has_one_log_group_with_retention(platform, templates):
    groups = 0
    for path, t in templates.items():
        for lg in resources_of(t, "AWS::Logs::LogGroup").values():
            assert lg["Properties"]["RetentionInDays"] > 0, path
            groups += 1
    assert groups == sum(len(e.services) for e in platform.environments.values())


def test_every_template_parameter_and_output_has_a_description(templates):
    for path, t in templates.items():
        assert t["Description"], path
        for section in ("Parameters", "Outputs"):
            for name, item in t.get(section, {}).items():
                assert item.get("Description"), f"{path} {section}.{name}"


# -- a new service is a config change only ------------------------------------------------------


def _new_service(raw: dict[str, Any]) -> dict[str, Any]:
    """A service unlike any in the configuration: its own name, port, path and priority."""
    services = raw["services"]
    taken = {s["name"] for s in services}
    n = len(services) + 1
    while f"extra{n}-service" in taken:
        n += 1
    used = {s["listener_priority"] for s in services}
    catch_all = [s["listener_priority"] for s in services if "/*" in s["path_patterns"]]
    # Before any catch-all rule, so that its path is reached.
    priority = next(p for p in range(1, min(catch_all, default=50_000)) if p not in used)
    return {
        "name": f"extra{n}-service",
        "discovery_name": f"extra{n}",
        "port": max(s["port"] for s in services) + 1,
        "repository": f"extra{n}-service",
        "health_check_path": "/health",
        "path_patterns": [f"/extra{n}/*"],
        "listener_priority": priority,
        "environment": {"CURRENCY": "EUR"},
        "secrets": ["STRIPE_TOKEN"],
    }


def test_a_new_service_is_a_config_change_only(raw, rendered):
    new = _new_service(raw)
    raw["services"].append(new)
    env_name = next(iter(raw["environments"]))
    with_new = render.render(config.from_dict(raw), [env_name])
    by_path = {r.path: json.loads(r.text) for r in with_new}
    t = by_path[f"{env_name}/{new['name']}.json"]
    c = container_of(t)
    assert c["Name"] == new["name"]
    assert c["Environment"] == [{"Name": "CURRENCY", "Value": "EUR"}]
    assert c["Secrets"][0]["ValueFrom"]["Fn::Sub"].endswith(
        f":secret:{raw['project']}/{env_name}/{new['name']}/STRIPE_TOKEN"
    )
    root = by_path[f"{env_name}/{naming.ROOT_TEMPLATE}"]
    stack_id = naming.pascal(new["name"])
    assert root["Resources"][stack_id]["Properties"]["Parameters"]["ImageTag"] == {
        "Ref": f"{stack_id}ImageTag"
    }
    assert f"{stack_id}ImageTag" in root["Parameters"]
    edge_sg = by_path[f"{env_name}/{naming.template_file(naming.EDGE)}"]["Resources"][
        "LoadBalancerSecurityGroup"
    ]["Properties"]
    assert edge_sg["SecurityGroupEgress"][0]["ToPort"] == new["port"]
    # The templates the new service changes are lint-clean (test_lint covers the others).
    before = {r.path: r.text for r in rendered}
    changed = [r for r in with_new if r.text != before.get(r.path)]
    assert {r.filename for r in changed} >= {
        f"{new['name']}.json",
        naming.ROOT_TEMPLATE,
        naming.template_file(naming.EDGE),
    }
    findings = lint.lint(changed, cache_dir=None)
    assert findings == [], "\n".join(map(str, findings))


def test_readme_environments_table_matches_the_config(platform):
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert docs.environments_table(platform) in readme, "run `python -m cfn.docs` and paste"


@pytest.mark.parametrize("env_name", ENV_NAMES)
def test_artifacts_bucket_is_versioned_encrypted_private_and_tls_only(
    env_name, platform, templates
):
    env = platform.env(env_name)
    t = templates[f"{env_name}/{naming.BOOTSTRAP_TEMPLATE}"]
    bucket = t["Resources"]["ArtifactsBucket"]
    p = bucket["Properties"]
    assert p["BucketName"] == {
        "Fn::Sub": f"{env.project}-{env.name}-artifacts-${{AWS::AccountId}}-${{AWS::Region}}"
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
