"""The local AWS's stack deletion (see cfn/localaws.py), the way AWS behaves:

- `UpdateTerminationProtection`, and `DeleteStack` refusing a protected stack;
- a resource event per resource (`DELETE_COMPLETE`, or `DELETE_SKIPPED` when `DeletionPolicy`
  retains it), a nested stack's physical id being its ARN;
- a resource that cannot be deleted ends the stack in `DELETE_FAILED` with that resource's
  reason, the stack kept for a retry (moto answers an HTTP 500 and forgets it);
- an ALB takes its `LoadBalancerAttributes` from the template, and one with deletion protection
  refuses to be deleted (moto ignores both);
- the EC2 resources moto's CloudFormation leaves behind (route tables, gateway attachment,
  internet and NAT gateways, VPC endpoints) are deleted too, so that the VPC can go.
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation import models as cfn_models
from moto.core.responses import ActionResult

_RETAINED = ("Retain", "RetainExceptOnCreate")


def patch() -> None:
    """Apply once per process (cfn.localaws.patch_moto calls it)."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.responses import CloudFormationResponse

    def update_termination_protection(self: Any) -> Any:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        stack.enable_termination_protection = self._get_bool_param("EnableTerminationProtection")
        return ActionResult({"StackId": stack.stack_id})

    CloudFormationResponse.update_termination_protection = update_termination_protection

    def delete_stack(self: Any, name_or_stack_id: str) -> None:
        try:
            stack = self.get_stack(name_or_stack_id)
        except ValidationError:
            return  # AWS: deleting a stack that does not exist succeeds
        if stack.status == "DELETE_COMPLETE":
            return
        if stack.enable_termination_protection:
            raise ValidationError(
                message=f"Stack [{stack.name}] cannot be deleted while TerminationProtection "
                "is enabled"
            )
        stack.delete()
        if stack.status == "DELETE_FAILED":
            return  # kept, as AWS does, for a retry or --retain-resources
        self.stacks.pop(stack.stack_id, None)
        self.deleted_stacks[stack.stack_id] = stack
        for export in stack.exports:
            self.exports.pop(export.name, None)

    cfn_models.CloudFormationBackend.delete_stack = delete_stack
    cfn_models.Stack.delete = _delete_reporting

    def delete_nested(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        backend = cfn_models.cloudformation_backends[account_id][region_name]
        nested = next((s for s in backend.stacks.values() if s.name == resource_name), None)
        backend.delete_stack(resource_name)
        if nested is not None and nested.status == "DELETE_FAILED":
            raise RuntimeError(
                f"Embedded stack {nested.stack_id} was not successfully deleted: "
                f"{nested.events[-1].resource_status_reason}"
            )

    cfn_models.Stack.delete_from_cloudformation_json = classmethod(delete_nested)
    _patch_load_balancer()


def _patch_load_balancer() -> None:
    from moto.elbv2 import models as elb_models
    from moto.elbv2.exceptions import ELBClientError

    original_create = elb_models.FakeLoadBalancer.create_from_cloudformation_json.__func__

    def create(
        cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kw: Any
    ) -> Any:
        balancer = original_create(cls, resource_name, cloudformation_json, *args, **kw)
        attributes = cloudformation_json["Properties"].get("LoadBalancerAttributes") or []
        balancer.attrs.update({a["Key"]: str(a["Value"]).lower() for a in attributes})
        return balancer

    elb_models.FakeLoadBalancer.create_from_cloudformation_json = classmethod(create)
    original_delete = elb_models.ELBv2Backend.delete_load_balancer

    def delete_load_balancer(self: Any, arn: str) -> None:
        balancer = self.load_balancers.get(arn)
        if balancer is not None and balancer.attrs.get("deletion_protection.enabled") == "true":
            raise ELBClientError(
                "OperationNotPermitted",
                f"Load balancer '{arn}' cannot be deleted because deletion protection is enabled",
            )
        original_delete(self, arn)

    elb_models.ELBv2Backend.delete_load_balancer = delete_load_balancer


def _delete_reporting(self: Any) -> None:
    """Stack.delete with a resource event per resource, and DELETE_FAILED instead of a 500."""
    self._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
    rmap = self.resource_map
    remaining = set()
    for logical_id, res in rmap._resource_json_map.items():
        if res.get("DeletionPolicy") in _RETAINED:
            _resource_event(self, logical_id, res["Type"], "DELETE_SKIPPED", None)
        else:
            remaining.add(logical_id)
    errors: dict[str, str] = {}
    progress = True
    while remaining and progress:  # dependencies first: retry what failed while any succeeds
        progress = False
        for logical_id in sorted(remaining):
            parsed = rmap._parsed_resources.get(logical_id)
            type_ = _type(rmap, logical_id)
            try:
                if parsed is not None and not isinstance(parsed, str):
                    rmap._delete_resource(parsed, rmap._resource_json_map[logical_id])
                    _delete_ec2_leftover(self, _type(rmap, logical_id), parsed)
                    rmap._parsed_resources.pop(logical_id)
            except Exception as exc:
                errors[logical_id] = getattr(exc, "message", None) or str(exc)
                continue
            remaining.discard(logical_id)
            # moto's ResourceMap re-creates a resource it is asked for and does not hold: a
            # deleted one must leave the template's map too (for listing, or a second attempt).
            rmap._resource_json_map.pop(logical_id, None)
            progress = True
            _resource_event(self, logical_id, type_, "DELETE_COMPLETE", parsed)
    if remaining:
        for logical_id in sorted(remaining):
            parsed = rmap._parsed_resources.get(logical_id)
            reason = errors[logical_id]
            type_ = _type(rmap, logical_id)
            _resource_event(self, logical_id, type_, "DELETE_FAILED", parsed, reason)
        self._add_stack_event(
            "DELETE_FAILED",
            resource_status_reason="The following resource(s) failed to delete: "
            f"[{', '.join(sorted(remaining))}]. ",
        )
        self.status = "DELETE_FAILED"
        return
    self._add_stack_event("DELETE_COMPLETE")
    self.status = "DELETE_COMPLETE"


def _type(rmap: Any, logical_id: str) -> str:
    return rmap._resource_json_map[logical_id]["Type"]


def _resource_event(
    stack: Any, logical_id: str, type_: str, status: str, parsed: Any, reason: str | None = None
) -> None:
    # A nested stack's physical id is its ARN on AWS (moto uses its name), so that a follower
    # can find its events.
    physical = getattr(parsed, "stack_id", None) or getattr(parsed, "physical_resource_id", "")
    stack.events.append(
        cfn_models.Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical_id,
            physical_resource_id=physical or "",
            resource_type=type_,
            resource_status=status,
            resource_status_reason=reason,
            resource_properties=None,
        )
    )


def _delete_ec2_leftover(stack: Any, type_: str, parsed: Any) -> None:
    """Delete what moto's CloudFormation forgets to: the EC2 resources that keep a VPC alive."""
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[stack.account_id][stack.region_name]
    if type_ == "AWS::EC2::RouteTable" and parsed.id in ec2.route_tables:
        for association_id in list(parsed._associations):
            ec2.disassociate_route_table(association_id)
        ec2.delete_route_table(parsed.id)
    elif type_ == "AWS::EC2::VPCGatewayAttachment":
        igw = ec2.internet_gateways.get(parsed.gateway_id)
        if igw is not None and igw.vpc is not None:
            ec2.detach_internet_gateway(parsed.gateway_id, parsed.vpc_id)
    elif type_ == "AWS::EC2::InternetGateway" and parsed.id in ec2.internet_gateways:
        ec2.delete_internet_gateway(parsed.id)
    elif type_ == "AWS::EC2::NatGateway" and parsed.id in ec2.nat_gateways:
        ec2.delete_nat_gateway(parsed.id)
        ec2.delete_network_interface(parsed._eni.id)
    elif type_ == "AWS::EC2::VPCEndpoint":
        # Not delete_vpc_endpoints: it edits the route tables, which may already be gone.
        ec2.vpc_end_points.pop(parsed.id, None)
