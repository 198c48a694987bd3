"""The local AWS's (`cfn.localaws`) support for the safety envelope's resources (issue 14), each
the way AWS behaves where moto differs:

- `AWS::CertificateManager::Certificate` is requested in moto's ACM, so that the HTTPS listener
  finds it (on AWS, CloudFormation waits for the DNS validation record in the hosted zone);
- `AWS::KMS::Key` tags: CloudFormation writes `Key`/`Value`, moto's key model reads
  `TagKey`/`TagValue`;
- `GetAtt` of a load balancer's `LoadBalancerFullName` and `CanonicalHostedZoneID` and of a
  target group's `TargetGroupFullName` (the alarms' dimensions, the alias record's target);
- an update of an `AWS::IAM::Role` applies its `PermissionsBoundary` (on AWS, CloudFormation
  puts or deletes the role's boundary; moto updates only the description), so that rolling the
  permissions boundary out to an existing environment can be tested;
- `hosted_zone(zone_id, name)`: a Route 53 hosted zone with the given id (moto picks its own
  ids), so that a configuration's zone exists in the local account as it must on AWS.
"""

from __future__ import annotations

from typing import Any

from moto.core.common_models import CloudFormationModel


def hosted_zone(zone_id: str, name: str, account_id: str = "123456789012") -> None:
    """Create the public hosted zone `zone_id` for `name` in the local account (in-process)."""
    from moto.route53.models import route53_backends

    backend = route53_backends[account_id]["aws"]
    if zone_id in backend.zones:
        return
    zone = backend.create_hosted_zone(name, private_zone=False)
    backend.zones.pop(zone.resource_id)
    zone.resource_id = zone_id
    backend.zones[zone_id] = zone


# The canonical hosted zone AWS reports for a load balancer is regional; locally one made-up id.
LOCAL_ALB_ZONE = "ZLOCALALBZONE"


def _full_name(arn: str, kind: str) -> str:
    """`...:loadbalancer/app/name/id` -> `app/name/id` (the CloudWatch dimension AWS returns)."""
    return arn.split(f":{kind}/", 1)[1]


def _patch_elbv2() -> None:
    """`GetAtt` of the full names (alarm dimensions) and the canonical zone (alias records)."""
    from moto.elbv2 import models as elbv2

    lb_get = elbv2.FakeLoadBalancer.get_cfn_attribute

    def lb_attribute(self: Any, name: str) -> Any:
        if name == "LoadBalancerFullName":
            return _full_name(self.arn, "loadbalancer")
        if name == "CanonicalHostedZoneID":
            return LOCAL_ALB_ZONE
        return lb_get(self, name)

    elbv2.FakeLoadBalancer.get_cfn_attribute = lb_attribute  # type: ignore[method-assign]
    elbv2.FakeTargetGroup.has_cfn_attr = classmethod(  # type: ignore[method-assign,assignment]
        lambda cls, attr: attr == "TargetGroupFullName"
    )
    elbv2.FakeTargetGroup.get_cfn_attribute = lambda self, name: (  # type: ignore[attr-defined]
        _full_name(self.arn, "targetgroup") if name == "TargetGroupFullName" else None
    )


class _LocalCertificate(CloudFormationModel):
    """A DNS-validated ACM certificate: requested in moto's ACM, so that a listener finds it (on
    AWS, CloudFormation waits for the validation record it writes in the hosted zone)."""

    def __init__(self, arn: str) -> None:
        self.arn = arn

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CertificateManager::Certificate"

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _LocalCertificate:
        from moto.acm.models import acm_backends

        domain = cloudformation_json["Properties"]["DomainName"]
        backend = acm_backends[account_id][region_name]
        arn = backend.request_certificate(domain, None, [], [])
        return cls(arn)

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        return None


def _patch_kms() -> None:
    """CloudFormation tags a key with `Key`/`Value`; moto's key model reads `TagKey`/`TagValue`."""
    from moto.kms.models import Key

    create = Key.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_key(cls: Any, name: str, cfn_json: Any, account_id: str, region: str, **kw: Any):
        props = dict(cfn_json.get("Properties") or {})
        props["Tags"] = [
            {"TagKey": t["Key"], "TagValue": t["Value"]} for t in props.get("Tags") or []
        ]
        return create(cls, name, {**cfn_json, "Properties": props}, account_id, region, **kw)

    Key.create_from_cloudformation_json = classmethod(create_key)  # type: ignore[method-assign,assignment]


def _patch_role_updates() -> None:
    """A role's update puts, changes or removes its permissions boundary, as on AWS."""
    from moto.iam.models import Role

    update = Role.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def update_role(cls: Any, *args: Any, **kwargs: Any) -> Any:
        role = update(cls, *args, **kwargs)
        cfn_json = kwargs["cloudformation_json"] if "cloudformation_json" in kwargs else args[2]
        boundary = (cfn_json.get("Properties") or {}).get("PermissionsBoundary")
        role.permissions_boundary_arn = boundary or None
        return role

    Role.update_from_cloudformation_json = classmethod(update_role)  # type: ignore[method-assign,assignment]


def patch() -> None:
    """Apply these patches (called once by `cfn.localaws.patch_moto`)."""
    _patch_elbv2()
    _patch_kms()
    _patch_role_updates()
