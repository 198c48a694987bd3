"""Network template: the environment's own VPC.

Builds a VPC with DNS support (Cloud Map private DNS needs it); one public and one private
subnet per availability zone, the zones picked with `Fn::GetAZs`/`Fn::Select` so the template
works in any region; an internet gateway; NAT gateways with Elastic IPs in the public subnets (as
many as the environment's config says, private subnets share them round-robin); route tables and
associations; and an S3 gateway endpoint, so that image layers pulled from ECR (stored in S3)
do not cross the NAT.

Outputs: VpcId, VpcCidr, PublicSubnetIds, PrivateSubnetIds (comma-separated lists).
"""

from __future__ import annotations

from troposphere import GetAtt, GetAZs, Join, Ref, Select, Sub, Template, ec2

from cfn import naming
from cfn.config import Environment
from cfn.stacks._common import add_output, new_template


def build(env: Environment) -> Template:
    t = new_template(env, "network (VPC, subnets, internet and NAT gateways, routes)")
    p = naming.prefix(env)

    vpc = t.add_resource(
        ec2.VPC(
            "Vpc",
            CidrBlock=env.vpc_cidr,
            EnableDnsHostnames=True,
            EnableDnsSupport=True,
            Tags=naming.tags(env, name=f"{p}-vpc"),
        )
    )
    igw = t.add_resource(ec2.InternetGateway("InternetGateway", Tags=naming.tags(env, name=p)))
    attach = t.add_resource(
        ec2.VPCGatewayAttachment(
            "InternetGatewayAttachment", VpcId=Ref(vpc), InternetGatewayId=Ref(igw)
        )
    )

    public_rt = t.add_resource(
        ec2.RouteTable(
            "PublicRouteTable", VpcId=Ref(vpc), Tags=naming.tags(env, name=f"{p}-public")
        )
    )
    t.add_resource(
        ec2.Route(
            "PublicDefaultRoute",
            # The route needs the gateway attached, which CloudFormation cannot infer.
            DependsOn=attach.title,
            RouteTableId=Ref(public_rt),
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=Ref(igw),
        )
    )

    public_subnets, private_subnets, private_rts, nats = [], [], [], []
    for i, (public_cidr, private_cidr) in enumerate(
        zip(env.public_subnets, env.private_subnets, strict=True)
    ):
        # "" is the stack's own region (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-getavailabilityzones.html).
        az = Select(i, GetAZs(""))
        n = i + 1
        public = t.add_resource(
            ec2.Subnet(
                f"PublicSubnet{n}",
                VpcId=Ref(vpc),
                CidrBlock=public_cidr,
                AvailabilityZone=az,
                # Nothing launched here needs an automatic public IP: the ALB and the NAT
                # gateways bring their own addresses.
                MapPublicIpOnLaunch=False,
                Tags=naming.tags(env, name=f"{p}-public-{n}"),
            )
        )
        private = t.add_resource(
            ec2.Subnet(
                f"PrivateSubnet{n}",
                VpcId=Ref(vpc),
                CidrBlock=private_cidr,
                AvailabilityZone=az,
                MapPublicIpOnLaunch=False,
                Tags=naming.tags(env, name=f"{p}-private-{n}"),
            )
        )
        t.add_resource(
            ec2.SubnetRouteTableAssociation(
                f"PublicSubnet{n}RouteTableAssociation",
                SubnetId=Ref(public),
                RouteTableId=Ref(public_rt),
            )
        )
        public_subnets.append(public)
        private_subnets.append(private)
        if i < env.nat_gateways:
            eip = t.add_resource(
                ec2.EIP(
                    f"NatEip{n}",
                    DependsOn=attach.title,
                    Domain="vpc",
                    Tags=naming.tags(env, name=f"{p}-nat-{n}"),
                )
            )
            nats.append(
                t.add_resource(
                    ec2.NatGateway(
                        f"NatGateway{n}",
                        AllocationId=GetAtt(eip, "AllocationId"),
                        SubnetId=Ref(public),
                        Tags=naming.tags(env, name=f"{p}-nat-{n}"),
                    )
                )
            )

    for i, private in enumerate(private_subnets):
        n = i + 1
        rt = t.add_resource(
            ec2.RouteTable(
                f"PrivateRouteTable{n}",
                VpcId=Ref(vpc),
                Tags=naming.tags(env, name=f"{p}-private-{n}"),
            )
        )
        t.add_resource(
            ec2.Route(
                f"PrivateDefaultRoute{n}",
                RouteTableId=Ref(rt),
                DestinationCidrBlock="0.0.0.0/0",
                # With fewer NAT gateways than zones, zones share them in turn.
                NatGatewayId=Ref(nats[i % len(nats)]),
            )
        )
        t.add_resource(
            ec2.SubnetRouteTableAssociation(
                f"PrivateSubnet{n}RouteTableAssociation",
                SubnetId=Ref(private),
                RouteTableId=Ref(rt),
            )
        )
        private_rts.append(rt)

    t.add_resource(
        ec2.VPCEndpoint(
            "S3GatewayEndpoint",
            VpcId=Ref(vpc),
            ServiceName=Sub("com.amazonaws.${AWS::Region}.s3"),
            VpcEndpointType="Gateway",
            RouteTableIds=[Ref(rt) for rt in private_rts],
        )
    )

    add_output(t, "VpcId", Ref(vpc), "ID of the environment's VPC")
    add_output(t, "VpcCidr", GetAtt(vpc, "CidrBlock"), "IPv4 CIDR block of the VPC")
    add_output(
        t,
        "PublicSubnetIds",
        Join(",", [Ref(s) for s in public_subnets]),
        "Public subnet IDs, one per availability zone (ALB, NAT gateways)",
    )
    add_output(
        t,
        "PrivateSubnetIds",
        Join(",", [Ref(s) for s in private_subnets]),
        "Private subnet IDs, one per availability zone (ECS tasks)",
    )
    return t
