"""Edge template: the environment's Application Load Balancer.

Builds the ALB in the public subnets with its own security group (80 and 443 from anywhere;
egress only to the VPC on the services' port range), an HTTP listener and, when the environment has
a certificate, an HTTPS listener with a current TLS policy, HTTP then redirecting to HTTPS. The
default action is a fixed 404: only paths a service claims (its listener rule) reach a service.
Deletion protection and dropping invalid header fields come from the config.

Outputs: ListenerArn (the listener services attach their rules to), LoadBalancerSecurityGroupId,
LoadBalancerDnsName, LoadBalancerFullName, LoadBalancerUrl.
"""

from __future__ import annotations

from troposphere import GetAtt, Join, Ref, Template, ec2
from troposphere import elasticloadbalancingv2 as elb

from cfn import naming
from cfn.config import Environment
from cfn.stacks._common import add_output, add_parameter, new_template, service_port_range

# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def _not_found() -> elb.Action:
    return elb.Action(
        Type="fixed-response",
        FixedResponseConfig=elb.FixedResponseConfig(
            StatusCode="404", ContentType="text/plain", MessageBody="Not found"
        ),
    )


def build(env: Environment) -> Template:
    t = new_template(env, "edge (Application Load Balancer, listeners)")
    vpc_id = add_parameter(t, "VpcId", "VPC of the environment", type_="AWS::EC2::VPC::Id")
    vpc_cidr = add_parameter(t, "VpcCidr", "IPv4 CIDR block of the VPC")
    subnets = add_parameter(
        t, "PublicSubnetIds", "Public subnets, one per AZ", type_="List<AWS::EC2::Subnet::Id>"
    )
    https = bool(env.certificate_arn)

    ingress = [
        ec2.SecurityGroupRule(
            IpProtocol="tcp",
            FromPort=port,
            ToPort=port,
            CidrIp="0.0.0.0/0",
            Description=f"{label} from the internet",
        )
        for port, label in ((80, "HTTP"), (443, "HTTPS"))
    ]
    # Replaces the default allow-all egress: the ALB only talks to tasks, inside the VPC.
    low, high = service_port_range(env)
    egress = [
        ec2.SecurityGroupRule(
            IpProtocol="tcp",
            FromPort=low,
            ToPort=high,
            CidrIp=Ref(vpc_cidr),
            Description="to the services' tasks",
        )
    ]
    sg = t.add_resource(
        ec2.SecurityGroup(
            "LoadBalancerSecurityGroup",
            GroupDescription=f"{naming.load_balancer(env)}: HTTP(S) from the internet",
            VpcId=Ref(vpc_id),
            SecurityGroupIngress=ingress,
            SecurityGroupEgress=egress,
            Tags=naming.tags(env, name=f"{naming.load_balancer(env)}"),
        )
    )
    attributes = {
        "deletion_protection.enabled": str(env.alb_deletion_protection).lower(),
        "routing.http.drop_invalid_header_fields.enabled": str(
            env.alb_drop_invalid_headers
        ).lower(),
    }
    alb = t.add_resource(
        elb.LoadBalancer(
            "LoadBalancer",
            Name=naming.load_balancer(env),
            Type="application",
            Scheme="internet-facing",
            Subnets=Ref(subnets),
            SecurityGroups=[Ref(sg)],
            LoadBalancerAttributes=[
                elb.LoadBalancerAttributes(Key=k, Value=v) for k, v in sorted(attributes.items())
            ],
            Tags=naming.tags(env),
        )
    )
    if https:
        http_default = elb.Action(
            Type="redirect",
            RedirectConfig=elb.RedirectConfig(Protocol="HTTPS", Port="443", StatusCode="HTTP_301"),
        )
    else:
        http_default = _not_found()
    http = t.add_resource(
        elb.Listener(
            "HttpListener",
            LoadBalancerArn=Ref(alb),
            Port=80,
            Protocol="HTTP",
            DefaultActions=[http_default],
        )
    )
    listener = http
    if https:
        listener = t.add_resource(
            elb.Listener(
                "HttpsListener",
                LoadBalancerArn=Ref(alb),
                Port=443,
                Protocol="HTTPS",
                SslPolicy=TLS_POLICY,
                Certificates=[elb.Certificate(CertificateArn=env.certificate_arn)],
                DefaultActions=[_not_found()],
            )
        )

    scheme = "https" if https else "http"
    add_output(
        t,
        "ListenerArn",
        Ref(listener),
        f"ARN of the {scheme.upper()} listener services attach rules to",
    )
    add_output(t, "LoadBalancerSecurityGroupId", Ref(sg), "Security group of the load balancer")
    add_output(t, "LoadBalancerDnsName", GetAtt(alb, "DNSName"), "DNS name of the load balancer")
    add_output(
        t,
        "LoadBalancerFullName",
        GetAtt(alb, "LoadBalancerFullName"),
        "Full name of the load balancer (CloudWatch metric dimension)",
    )
    add_output(
        t,
        "LoadBalancerUrl",
        Join("", [f"{scheme}://", GetAtt(alb, "DNSName")]),
        "URL of the platform",
    )
    return t
