"""A local AWS for `bin/local-aws` and the deploy tests: moto's server on 127.0.0.1, taught
the CloudFormation behaviour our stacks need and moto lacks (see ../shared/notes/moto.md).

The server runs in this process (`ThreadedMotoServer`), so the patches below apply to it; the
code under test talks to it over HTTP with real boto3 clients, exactly as it would to AWS.

What the patches add, each the way AWS behaves:
- `Fn::GetAtt Nested.Outputs.Name` on a nested stack (the root wires parts with it);
- resources moto's CloudFormation does not register (Cloud Map namespace and service,
  Application Auto Scaling target and policy, CloudWatch alarms and composite alarms): created
  as opaque resources with an id and an ARN, so that `Ref` and `GetAtt` to them resolve;
- the safety envelope's resources (certificates, keys, alarms, zones): `cfn.localaws_envelope`;
- executing a change set publishes the stack's outputs and remembers its parameters, as
  `create_stack` already does, and an update sets the stack's `LastUpdatedTime`;
- a change set lists a nested stack as modified when only the parameters passed to it change
  (a new image tag), as AWS does; moto compares template text only; and the update reaches
  every resource using the parameter, and their dependents;
- a modified nested stack is updated in place, as AWS does; moto deletes and re-creates it,
  which collides with the names its old resources still hold;
- `UpdateTerminationProtection`, and `DeleteStack` refusing a protected stack;
- deleting a stack reports each resource (`DELETE_COMPLETE`, `DELETE_SKIPPED` when retained) and,
  when one cannot be deleted, ends in `DELETE_FAILED` with that resource's reason, the stack
  kept; moto answers an HTTP 500 instead.
- the deployment story (request tokens on events, ECS rollouts): see cfn/localaws_rollout.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

from moto.cloudformation import models as cfn_models
from moto.cloudformation import parsing
from moto.cloudformation import utils as cfn_utils
from moto.core.common_models import CloudFormationModel
from moto.core.utils import utcnow
from moto.server import ThreadedMotoServer
from moto.utilities.utils import get_partition

from cfn import localaws_deletion, localaws_envelope, localaws_rollout
from cfn.localaws_envelope import hosted_zone as hosted_zone

_patched = False


def _stack_get_cfn_attribute(self: cfn_models.Stack, attribute: str) -> Any:
    if attribute.startswith("Outputs."):
        key = attribute.removeprefix("Outputs.")
        for output in self.outputs or []:
            if output["OutputKey"] == key:
                return output["OutputValue"]
        raise cfn_models.ValidationError(message=f"Output {key} not found in stack {self.name}")
    raise NotImplementedError(attribute)


class _OpaqueResource:
    """A resource moto cannot model: it exists, has an id and an ARN, and does nothing.

    A mixin: moto finds models among CloudFormationModel's *direct* subclasses.
    """

    TYPE = ""
    SERVICE = ""

    def __init__(self, logical_id: str, account_id: str, region: str) -> None:
        self.id = f"{self.SERVICE}-{uuid.uuid4().hex[:17]}"
        self.arn = f"arn:aws:{self.SERVICE}:{region}:{account_id}:{logical_id.lower()}/{self.id}"

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in ("Id", "Arn", "Name")

    @property
    def physical_resource_id(self) -> str:
        return self.id

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return {"Id": self.id, "Arn": self.arn, "Name": self.id}[attribute_name]

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> _OpaqueResource:
        return cls(resource_name, account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[override]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> _OpaqueResource:
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        return None


def _opaque(type_: str, service: str) -> type[_OpaqueResource]:
    name = "Harness" + type_.replace("::", "")
    return type(name, (_OpaqueResource, CloudFormationModel), {"TYPE": type_, "SERVICE": service})


OPAQUE_TYPES = [
    _opaque("AWS::ServiceDiscovery::PrivateDnsNamespace", "servicediscovery"),
    _opaque("AWS::ServiceDiscovery::Service", "servicediscovery"),
    _opaque("AWS::ApplicationAutoScaling::ScalableTarget", "application-autoscaling"),
    _opaque("AWS::ApplicationAutoScaling::ScalingPolicy", "application-autoscaling"),
    _opaque("AWS::CloudWatch::Alarm", "cloudwatch"),
    _opaque("AWS::CloudWatch::CompositeAlarm", "cloudwatch"),
]


def patch_moto() -> None:
    """Apply the patches once per process."""
    global _patched
    if _patched:
        return
    cfn_models.Stack.get_cfn_attribute = _stack_get_cfn_attribute  # type: ignore[attr-defined]
    localaws_envelope.patch()
    # moto builds its type -> model map from CloudFormationModel's subclasses, cached.
    for cached in ("get_model_list", "get_model_map", "get_name_type_map"):
        getattr(parsing, cached).cache_clear()
    parsing.MODEL_MAP = parsing.get_model_map()
    parsing.NAME_TYPE_MAP = parsing.get_name_type_map()

    original_execute = cfn_models.CloudFormationBackend.execute_change_set

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        original_execute(self, change_set_name, stack_name)
        change_set = self.describe_change_set(change_set_name)
        stack = self.stacks[change_set.stack_id]
        stack.parameters = dict(change_set.parameters)
        stack.template_dict = change_set.template_dict
        stack.output_map = stack._create_output_map()
        if change_set.change_set_type == "UPDATE":  # AWS's LastUpdatedTime; moto has none
            stack.last_updated_time = utcnow()

    cfn_models.CloudFormationBackend.execute_change_set = execute_change_set

    original_diff = cfn_models.ChangeSet.diff

    def diff(self: Any) -> list[Any]:
        changes = original_diff(self)
        if self.change_set_type != "UPDATE":
            return changes
        listed = {c.logical_resource_id for c in changes}
        old_template = self.stack.template_dict or {}
        old_params = dict(self.stack.parameters or {})
        for logical_id, res in (self.template_dict.get("Resources") or {}).items():
            if res.get("Type") != "AWS::CloudFormation::Stack" or logical_id in listed:
                continue
            before = (old_template.get("Resources") or {}).get(logical_id)
            if before is None:
                continue
            if _resolve_refs(before, old_params) != _resolve_refs(res, self.parameters):
                changes.append(cfn_models.Change("Modify", logical_id, res["Type"]))
        return changes

    cfn_models.ChangeSet.diff = diff

    def update_nested(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        props = cloudformation_json["Properties"]
        body = cfn_utils.get_stack_from_s3_url(
            props["TemplateURL"], account_id=account_id, partition=get_partition(region_name)
        )
        original_resource.update(body, parameters=props.get("Parameters", {}))
        return original_resource

    cfn_models.Stack.update_from_cloudformation_json = classmethod(update_nested)
    localaws_deletion.patch()
    localaws_rollout.patch()
    _patch_parameter_updates()
    _patched = True


def _patch_parameter_updates() -> None:
    """A changed parameter updates every resource that uses it, through `Ref`, `Fn::Sub` or
    `Fn::GetAtt`, and then what uses those, as AWS does (a new image tag: a new task definition
    revision, then the service moved onto it). moto follows a direct `Ref` only."""
    original = parsing.ResourceMap.build_resource_diff

    def build_resource_diff(self: Any, template: Any, parameters: Any = None) -> Any:
        actions = original(self, template, parameters)
        if not parameters:
            return actions
        old, new = self._resource_json_map, template["Resources"]
        changed = {p for p in parameters if self.input_parameters.get(p) != parameters[p]}
        changed |= set(actions["Modify"]) | set(actions["Add"])
        grew = True
        while grew:  # dependents after what they depend on: the order updates run in
            grew = False
            for name, res in new.items():
                if name in old and name not in changed and _references(res) & changed:
                    actions["Modify"].append(name)
                    changed.add(name)
                    grew = True
        return actions

    parsing.ResourceMap.build_resource_diff = build_resource_diff

    from moto.ecs import models as ecs_models

    def update_task_definition(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        # A new revision, written like a created one: moto's update keeps the template's
        # PascalCase container keys, which DescribeTaskDefinition then returns.
        backend = ecs_models.ecs_backends[account_id][region_name]
        backend.deregister_task_definition(original_resource.arn)
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    ecs_models.TaskDefinition.update_from_cloudformation_json = classmethod(update_task_definition)


def _references(node: Any) -> set[str]:
    """The parameters and resources a piece of template names (Ref, GetAtt, Sub)."""
    if isinstance(node, list):
        return set().union(*(_references(v) for v in node)) if node else set()
    if not isinstance(node, dict):
        return set()
    out: set[str] = set()
    for key, value in node.items():
        if key == "Ref" and isinstance(value, str):
            out.add(value)
        elif key == "Fn::GetAtt":
            out.add(value.split(".")[0] if isinstance(value, str) else value[0])
        elif key == "Fn::Sub":
            text = value if isinstance(value, str) else value[0]
            out |= {m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)}
            if isinstance(value, list):
                out |= _references(value[1:])
        else:
            out |= _references(value)
    return out


def _resolve_refs(node: Any, parameters: dict[str, Any]) -> Any:
    """The JSON with every `Ref` to a parameter replaced by the parameter's value."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in parameters:
            return parameters[node["Ref"]]
        return {k: _resolve_refs(v, parameters) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_refs(v, parameters) for v in node]
    return node


class LocalAws:
    """The running server: its endpoint, and helpers to reset it between tests."""

    def __init__(self, server: ThreadedMotoServer) -> None:
        self.server = server
        _host, port = server.get_host_and_port()
        # "localhost", not "127.0.0.1": moto reads a path-style URL's first label as the bucket.
        self.endpoint = f"http://localhost:{port}"

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            json.loads(resp.read() or b"{}")

    def backend(
        self, service: str, account: str = "123456789012", region: str = "eu-west-1"
    ) -> Any:
        """moto's in-process backend (to force states moto never reaches on its own)."""
        from moto.backends import get_backend

        return get_backend(service)[account][region]


@contextlib.contextmanager
def local_aws() -> Iterator[LocalAws]:
    patch_moto()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield LocalAws(server)
    finally:
        server.stop()


def _first_account() -> str:
    from cfn import config

    first = next(iter(config.load().environments.values()))
    return first.account_id


def main() -> None:
    """`bin/local-aws`: serve the patched emulator until Ctrl-C."""
    import argparse
    import logging
    import signal
    import threading
    import warnings

    parser = argparse.ArgumentParser(
        description="A local AWS (moto) with the CloudFormation behaviour this project needs."
    )
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument(
        "--account",
        default=None,
        help="AWS account id to answer as. Default: the configuration's first environment's "
        "account_id, so that `bin/deploy --env <it>` passes its account check.",
    )
    args = parser.parse_args()
    account = args.account or _first_account()
    os.environ["MOTO_ACCOUNT_ID"] = account  # moto reads it on every request
    warnings.simplefilter("ignore")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    patch_moto()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    print(
        f"local AWS on http://localhost:{args.port}, account {account} (Ctrl-C stops it)",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
