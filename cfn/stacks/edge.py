"""Edge template: the environment's Application Load Balancer.

Builds the ALB in the public subnets with its own security group (80 and 443 from anywhere;
egress only to the VPC on the services' port range), an HTTP listener and, when the environment has
HTTPS, an HTTPS listener with a current TLS policy, HTTP then only redirecting to HTTPS. The
certificate is the configured `certificate_arn`, or a DNS-validated ACM certificate for
`domain_name` created here with the alias record of the domain in `hosted_zone_id`. The
default action is a fixed 404: only paths a service claims (its listener rule) reach a service.
Deletion protection, dropping invalid header fields and access logs (to the bootstrap stack's
logs bucket) come from the config. The rollback alarm on the load balancer's 5xx responses
(its own and the targets', per minute) is here too.

Outputs: ListenerArn (the listener services attach their rules to), LoadBalancerSecurityGroupId,
LoadBalancerDnsName, LoadBalancerFullName, LoadBalancerUrl, Alb5xxAlarmArn.
"""

from __future__ import annotations

from troposphere import (
    GetAtt,
    Join,
    Parameter,
    Ref,
    Sub,
    Template,
    certificatemanager,
    ec2,
    route53,
)
from troposphere import elasticloadbalancingv2 as elb

from cfn import naming
from cfn.config import Environment
from cfn.stacks import alarms
from cfn.stacks._common import add_output, add_parameter, new_template, service_port_range
from cfn.stacks.audit import guard_suppressions

# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def _not_found() -> elb.Action:
    return elb.Action(
        Type="fixed-response",
        FixedResponseConfig=elb.FixedResponseConfig(
            StatusCode="404", ContentType="text/plain", MessageBody="Not found"
        ),
    )


def security_group(env: Environment, vpc_id: Parameter, vpc_cidr: Parameter) -> ec2.SecurityGroup:
    """80 and 443 from anywhere; out only to the VPC, on the services' port range."""
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
    return ec2.SecurityGroup(
        "LoadBalancerSecurityGroup",
        GroupDescription=f"{naming.load_balancer(env)}: HTTP(S) from the internet",
        VpcId=Ref(vpc_id),
        SecurityGroupIngress=ingress,
        SecurityGroupEgress=egress,
        Tags=naming.tags(env, name=f"{naming.load_balancer(env)}"),
    )


def load_balancer(env: Environment, subnets: Parameter, sg: ec2.SecurityGroup) -> elb.LoadBalancer:
    attributes = {
        "deletion_protection.enabled": str(env.alb_deletion_protection).lower(),
        # AWS's default, stated: requests that risk HTTP desync are mitigated or refused.
        "routing.http.desync_mitigation_mode": "defensive",
        "routing.http.drop_invalid_header_fields.enabled": str(
            env.alb_drop_invalid_headers
        ).lower(),
    }
    if env.access_logs:
        # The bucket is the bootstrap stack's (it exists before the root stack).
        attributes |= {
            "access_logs.s3.enabled": "true",
            "access_logs.s3.bucket": Sub(naming.logs_bucket(env)),
            "access_logs.s3.prefix": naming.ALB_LOGS_PREFIX,
        }
    suppressed = []
    if not env.alb_deletion_protection:
        suppressed.append(
            ("CT.ELASTICLOADBALANCING.PR.5", f"{env.name} is not protected: destroy may delete it")
        )
    if not env.access_logs:
        suppressed.append(("CT.ELASTICLOADBALANCING.PR.6", env.cost_opt_out_reason))
    if not env.https:
        suppressed.append(("CT.ELASTICLOADBALANCING.PR.2", env.http_only_reason))
    metadata = {"Metadata": guard_suppressions(*suppressed)} if suppressed else {}
    return elb.LoadBalancer(
        "LoadBalancer",
        **metadata,
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


def certificate(env: Environment) -> certificatemanager.Certificate:
    """A certificate for `domain_name`, validated by a DNS record ACM writes in the zone."""
    return certificatemanager.Certificate(
        "Certificate",
        DomainName=env.domain_name,
        ValidationMethod="DNS",
        DomainValidationOptions=[
            certificatemanager.DomainValidationOption(
                DomainName=env.domain_name, HostedZoneId=env.hosted_zone_id
            )
        ],
        Tags=naming.tags(env),
    )


def alias_record(env: Environment, alb: elb.LoadBalancer) -> route53.RecordSetType:
    """`domain_name` -> the load balancer (an alias A record: no charge for its queries)."""
    return route53.RecordSetType(
        "AliasRecord",
        HostedZoneId=env.hosted_zone_id,
        Name=env.domain_name,
        Type="A",
        AliasTarget=route53.AliasTarget(
            DNSName=GetAtt(alb, "DNSName"),
            HostedZoneId=GetAtt(alb, "CanonicalHostedZoneID"),
            EvaluateTargetHealth=False,
        ),
    )


def listeners(
    env: Environment, alb: elb.LoadBalancer, cert: object | None = None
) -> list[elb.Listener]:
    """HTTP, and HTTPS when the environment has a certificate (`cert`: its ARN); the last one
    is where the services attach their rules. With HTTPS, HTTP only redirects to it."""
    if cert is None:
        http = _listener("HttpListener", alb, 80, "HTTP", _not_found())
        http.Metadata = guard_suppressions(("CT.ELASTICLOADBALANCING.PR.1", env.http_only_reason))
        return [http]
    redirect = elb.Action(
        Type="redirect",
        RedirectConfig=elb.RedirectConfig(Protocol="HTTPS", Port="443", StatusCode="HTTP_301"),
    )
    https = _listener(
        "HttpsListener",
        alb,
        443,
        "HTTPS",
        _not_found(),
        SslPolicy=TLS_POLICY,
        Certificates=[elb.Certificate(CertificateArn=cert)],
    )
    return [_listener("HttpListener", alb, 80, "HTTP", redirect), https]


def _listener(
    title: str, alb: elb.LoadBalancer, port: int, protocol: str, default: elb.Action, **tls: object
) -> elb.Listener:
    return elb.Listener(
        title,
        LoadBalancerArn=Ref(alb),
        Port=port,
        Protocol=protocol,
        DefaultActions=[default],
        **tls,
    )


def build(env: Environment) -> Template:
    t = new_template(env, "edge (Application Load Balancer, listeners)")
    vpc_id = add_parameter(t, "VpcId", "VPC of the environment", type_="AWS::EC2::VPC::Id")
    vpc_cidr = add_parameter(t, "VpcCidr", "IPv4 CIDR block of the VPC")
    subnets = add_parameter(
        t, "PublicSubnetIds", "Public subnets, one per AZ", type_="List<AWS::EC2::Subnet::Id>"
    )
    sg = t.add_resource(security_group(env, vpc_id, vpc_cidr))
    alb = t.add_resource(load_balancer(env, subnets, sg))
    cert: object | None = env.certificate_arn or None
    if env.domain_name:
        cert = Ref(t.add_resource(certificate(env)))
        t.add_resource(alias_record(env, alb))
    # The last listener is the one services attach their rules to (HTTPS when there is one).
    *_, services_listener = [t.add_resource(x) for x in listeners(env, alb, cert)]
    errors = t.add_resource(alarms.load_balancer_5xx(env, alb))

    scheme = "https" if env.https else "http"
    add_output(
        t,
        "ListenerArn",
        Ref(services_listener),
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
    host = env.domain_name or GetAtt(alb, "DNSName")
    add_output(t, "LoadBalancerUrl", Join("", [f"{scheme}://", host]), "URL of the platform")
    add_output(t, "Alb5xxAlarmArn", GetAtt(errors, "Arn"), "Rollback alarm: 5xx responses")
    return t
