"""The network template of every environment: zones, subnets, NAT, routes, outputs."""

from __future__ import annotations

import ipaddress
import json

import pytest

from cfn import config, naming, render
from cfn.stacks import network
from tests.conftest import resources_of

# Every environment of the configuration, read at collection time to name the test cases.
ENV_NAMES = list(config.load().environments)


@pytest.fixture(params=ENV_NAMES)
def env_net(request, platform, templates):
    env = platform.env(request.param)
    return env, templates[f"{env.name}/{naming.template_file(naming.NETWORK)}"]


def test_one_public_and_one_private_subnet_per_zone(env_net):
    env, t = env_net
    subnets = resources_of(t, "AWS::EC2::Subnet")
    public = sorted(k for k in subnets if k.startswith("Public"))
    private = sorted(k for k in subnets if k.startswith("Private"))
    assert len(public) == len(private) == env.az_count >= 2
    for i in range(env.az_count):
        for name in (f"PublicSubnet{i + 1}", f"PrivateSubnet{i + 1}"):
            # Zones come from Fn::GetAZs, never a hard-coded name; subnet i is in zone i.
            assert subnets[name]["Properties"]["AvailabilityZone"] == {
                "Fn::Select": [i, {"Fn::GetAZs": ""}]
            }
    cidrs = [ipaddress.ip_network(s["Properties"]["CidrBlock"]) for s in subnets.values()]
    vpc = ipaddress.ip_network(env.vpc_cidr)
    assert all(c.subnet_of(vpc) for c in cidrs)


def test_no_subnet_maps_public_ips(env_net):
    _, t = env_net
    for name, s in resources_of(t, "AWS::EC2::Subnet").items():
        assert s["Properties"]["MapPublicIpOnLaunch"] is False, name


def test_nat_gateways_per_config_in_public_subnets(env_net):
    env, t = env_net
    nats = resources_of(t, "AWS::EC2::NatGateway")
    assert len(nats) == env.nat_gateways
    assert len(resources_of(t, "AWS::EC2::EIP")) == env.nat_gateways
    for nat in nats.values():
        assert nat["Properties"]["SubnetId"]["Ref"].startswith("PublicSubnet")


def test_private_subnets_route_to_the_internet_only_through_nat(env_net):
    env, t = env_net
    routes = resources_of(t, "AWS::EC2::Route")
    assocs = resources_of(t, "AWS::EC2::SubnetRouteTableAssociation")
    nats = set(resources_of(t, "AWS::EC2::NatGateway"))
    used_nats = set()
    for i in range(env.az_count):
        subnet = f"PrivateSubnet{i + 1}"
        (table,) = [
            a["Properties"]["RouteTableId"]["Ref"]
            for a in assocs.values()
            if a["Properties"]["SubnetId"] == {"Ref": subnet}
        ]
        defaults = [
            r["Properties"]
            for r in routes.values()
            if r["Properties"]["RouteTableId"] == {"Ref": table}
        ]
        assert len(defaults) == 1 and defaults[0]["DestinationCidrBlock"] == "0.0.0.0/0"
        assert "GatewayId" not in defaults[0], f"{subnet} routes straight to the internet gateway"
        used_nats.add(defaults[0]["NatGatewayId"]["Ref"])
    # Every NAT gateway serves some zone (one per zone, or fewer shared in turn).
    assert used_nats == nats


def test_public_subnets_route_through_the_internet_gateway(env_net):
    _, t = env_net
    route = t["Resources"]["PublicDefaultRoute"]
    assert route["Properties"]["GatewayId"] == {"Ref": "InternetGateway"}
    assert route["DependsOn"] == "InternetGatewayAttachment"


def test_s3_gateway_endpoint_on_private_route_tables(env_net):
    env, t = env_net
    (endpoint,) = resources_of(t, "AWS::EC2::VPCEndpoint").values()
    assert endpoint["Properties"]["VpcEndpointType"] == "Gateway"
    assert endpoint["Properties"]["RouteTableIds"] == [
        {"Ref": f"PrivateRouteTable{i + 1}"} for i in range(env.az_count)
    ]


def test_vpc_has_dns_for_cloud_map(env_net):
    env, t = env_net
    vpc = t["Resources"]["Vpc"]["Properties"]
    assert vpc["CidrBlock"] == env.vpc_cidr
    assert vpc["EnableDnsHostnames"] is True and vpc["EnableDnsSupport"] is True


def test_outputs_and_description(env_net):
    _, t = env_net
    assert t["Description"]
    assert set(t["Outputs"]) == {"VpcId", "VpcCidr", "PublicSubnetIds", "PrivateSubnetIds"}
    assert all(o["Description"] for o in t["Outputs"].values())


def test_every_taggable_resource_carries_project_tags(env_net):
    env, t = env_net
    for name, res in t["Resources"].items():
        tags = res["Properties"].get("Tags")
        if tags is None:
            continue
        keys = {tag["Key"]: tag["Value"] for tag in tags}
        assert keys["Project"] == env.project and keys["Environment"] == env.name, name
        assert keys["ManagedBy"] == naming.MANAGED_BY, name


@pytest.mark.parametrize("shared", [True, False], ids=["one-shared-nat", "nat-per-zone"])
def test_private_subnets_share_nat_gateways_in_turn(raw, shared):
    # Both layouts, whatever the configuration's environments happen to use.
    env_name = next(iter(raw["environments"]))
    zones = len(raw["environments"][env_name]["private_subnets"])
    raw["environments"][env_name]["nat_gateways"] = 1 if shared else zones
    env = config.from_dict(raw).env(env_name)
    t = json.loads(render.to_text(network.build(env)))
    nats = sorted(resources_of(t, "AWS::EC2::NatGateway"))
    assert len(nats) == env.nat_gateways
    for i in range(zones):
        route = t["Resources"][f"PrivateDefaultRoute{i + 1}"]["Properties"]
        assert route["NatGatewayId"] == {"Ref": f"NatGateway{i % len(nats) + 1}"}
