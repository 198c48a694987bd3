"""Network template: the environment's own VPC.

Builds a VPC with DNS support (Cloud Map private DNS needs it); one public and one private
subnet per availability zone, the zones picked with `Fn::GetAZs`/`Fn::Select` so the template
works in any region; an internet gateway; NAT gateways with Elastic IPs in the public subnets (as
many as the environment's config says, private subnets share them round-robin); route tables and
associations; and an S3 gateway endpoint, so that image layers pulled from ECR (stored in S3)
do not cross the NAT.

`build` composes one small, pure function per part: the VPC and its internet gateway, the public
route table, the subnets of a zone, a NAT gateway, a private subnet's routing, the S3 endpoint.

Outputs: VpcId, VpcCidr, PublicSubnetIds, PrivateSubnetIds (comma-separated lists).
"""

from __future__ import annotations

from troposphere import AWSObject, GetAtt, GetAZs, Join, Ref, Select, Sub, Template, ec2

from cfn import naming
from cfn.config import Environment
from cfn.stacks._common import add_output, new_template


def vpc(env: Environment) -> ec2.VPC:
    return ec2.VPC(
        "Vpc",
        CidrBlock=env.vpc_cidr,
        EnableDnsHostnames=True,
        EnableDnsSupport=True,
        Tags=naming.tags(env, name=f"{naming.prefix(env)}-vpc"),
    )


def internet_gateway(
    env: Environment, network: ec2.VPC
) -> tuple[ec2.InternetGateway, ec2.VPCGatewayAttachment]:
    igw = ec2.InternetGateway("InternetGateway", Tags=naming.tags(env, name=naming.prefix(env)))
    attach = ec2.VPCGatewayAttachment(
        "InternetGatewayAttachment", VpcId=Ref(network), InternetGatewayId=Ref(igw)
    )
    return igw, attach


def public_routing(
    env: Environment,
    network: ec2.VPC,
    gateway: tuple[ec2.InternetGateway, ec2.VPCGatewayAttachment],
) -> tuple[ec2.RouteTable, ec2.Route]:
    """One route table for every public subnet: the default route is the internet gateway."""
    igw, attach = gateway
    table = ec2.RouteTable(
        "PublicRouteTable",
        VpcId=Ref(network),
        Tags=naming.tags(env, name=f"{naming.prefix(env)}-public"),
    )
    route = ec2.Route(
        "PublicDefaultRoute",
        # The route needs the gateway attached, which CloudFormation cannot infer.
        DependsOn=attach.title,
        RouteTableId=Ref(table),
        DestinationCidrBlock="0.0.0.0/0",
        GatewayId=Ref(igw),
    )
    return table, route


def subnet(env: Environment, kind: str, zone: int, cidr: str, network: ec2.VPC) -> ec2.Subnet:
    """The `kind` ("Public" or "Private") subnet of the `zone`-th availability zone (from 0)."""
    n = zone + 1
    return ec2.Subnet(
        f"{kind}Subnet{n}",
        VpcId=Ref(network),
        CidrBlock=cidr,
        # "" is the stack's own region (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-getavailabilityzones.html).
        AvailabilityZone=Select(zone, GetAZs("")),
        # Nothing launched here needs an automatic public IP: the ALB and the NAT gateways
        # bring their own addresses.
        MapPublicIpOnLaunch=False,
        Tags=naming.tags(env, name=f"{naming.prefix(env)}-{kind.lower()}-{n}"),
    )


def zone_subnets(env: Environment, zone: int, network: ec2.VPC) -> tuple[ec2.Subnet, ec2.Subnet]:
    """The public and the private subnet of the `zone`-th availability zone (from 0)."""
    return (
        subnet(env, "Public", zone, env.public_subnets[zone], network),
        subnet(env, "Private", zone, env.private_subnets[zone], network),
    )


def nat_gateway(
    env: Environment, n: int, public: ec2.Subnet, attach: ec2.VPCGatewayAttachment
) -> tuple[ec2.EIP, ec2.NatGateway]:
    """The `n`-th NAT gateway (from 1), with its Elastic IP, in a public subnet."""
    tags = naming.tags(env, name=f"{naming.prefix(env)}-nat-{n}")
    eip = ec2.EIP(f"NatEip{n}", DependsOn=attach.title, Domain="vpc", Tags=tags)
    nat = ec2.NatGateway(
        f"NatGateway{n}", AllocationId=GetAtt(eip, "AllocationId"), SubnetId=Ref(public), Tags=tags
    )
    return eip, nat


def private_routing(
    env: Environment, n: int, network: ec2.VPC, private: ec2.Subnet, nat: ec2.NatGateway
) -> tuple[ec2.RouteTable, ec2.Route, ec2.SubnetRouteTableAssociation]:
    """The `n`-th private subnet's own route table: the default route is a NAT gateway."""
    table = ec2.RouteTable(
        f"PrivateRouteTable{n}",
        VpcId=Ref(network),
        Tags=naming.tags(env, name=f"{naming.prefix(env)}-private-{n}"),
    )
    route = ec2.Route(
        f"PrivateDefaultRoute{n}",
        RouteTableId=Ref(table),
        DestinationCidrBlock="0.0.0.0/0",
        NatGatewayId=Ref(nat),
    )
    return table, route, association(private, table)


def association(subnet: ec2.Subnet, table: ec2.RouteTable) -> ec2.SubnetRouteTableAssociation:
    return ec2.SubnetRouteTableAssociation(
        f"{subnet.title}RouteTableAssociation", SubnetId=Ref(subnet), RouteTableId=Ref(table)
    )


def s3_endpoint(network: ec2.VPC, tables: list[ec2.RouteTable]) -> ec2.VPCEndpoint:
    """Image layers from ECR are stored in S3: this keeps them off the NAT gateways."""
    return ec2.VPCEndpoint(
        "S3GatewayEndpoint",
        VpcId=Ref(network),
        ServiceName=Sub("com.amazonaws.${AWS::Region}.s3"),
        VpcEndpointType="Gateway",
        RouteTableIds=[Ref(rt) for rt in tables],
    )


def _add(t: Template, *resources: AWSObject) -> None:
    for r in resources:
        t.add_resource(r)


def build(env: Environment) -> Template:
    t = new_template(env, "network (VPC, subnets, internet and NAT gateways, routes)")
    network = t.add_resource(vpc(env))
    gateway = internet_gateway(env, network)
    _, attach = gateway
    public_table, public_route = public_routing(env, network, gateway)
    _add(t, *gateway, public_table, public_route)

    zones = [zone_subnets(env, i, network) for i in range(len(env.public_subnets))]
    nats = []
    for n, (public, private) in enumerate(zones, start=1):
        _add(t, public, private, association(public, public_table))
        if n <= env.nat_gateways:
            eip, nat = nat_gateway(env, n, public, attach)
            _add(t, eip, nat)
            nats.append(nat)
    private_tables = []
    for i, (_, private) in enumerate(zones):
        # With fewer NAT gateways than zones, zones share them in turn.
        table, route, assoc = private_routing(env, i + 1, network, private, nats[i % len(nats)])
        _add(t, table, route, assoc)
        private_tables.append(table)
    t.add_resource(s3_endpoint(network, private_tables))

    add_output(t, "VpcId", Ref(network), "ID of the environment's VPC")
    add_output(t, "VpcCidr", GetAtt(network, "CidrBlock"), "IPv4 CIDR block of the VPC")
    add_output(
        t,
        "PublicSubnetIds",
        Join(",", [Ref(public) for public, _ in zones]),
        "Public subnet IDs, one per availability zone (ALB, NAT gateways)",
    )
    add_output(
        t,
        "PrivateSubnetIds",
        Join(",", [Ref(private) for _, private in zones]),
        "Private subnet IDs, one per availability zone (ECS tasks)",
    )
    return t
