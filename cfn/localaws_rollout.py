"""The local AWS's deployment story (see cfn/localaws.py), the way AWS behaves:

- `ExecuteChangeSet`'s `ClientRequestToken` is stamped on every event the execution causes, in
  the root and the nested stacks (moto leaves it empty);
- an ECS service's deployment completes with every desired task running (moto never starts a
  task), and a new task definition starts a new deployment, as after a healthy rollout;
- ECS's `ListServiceDeployments` / `DescribeServiceDeployments` (not in moto) answer
  `UnknownOperationException` at once, as an endpoint without them does (not a retried 500).
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.cloudformation import models as cfn_models


def patch() -> None:
    """Apply once per process (cfn.localaws.patch_moto calls it)."""
    _patch_request_tokens()
    _patch_ecs_rollouts()


_token: list[str | None] = [None]


def _patch_request_tokens() -> None:
    from moto.cloudformation.responses import CloudFormationResponse

    original_response = CloudFormationResponse.execute_change_set

    def execute_change_set(self: Any) -> Any:
        _token[0] = self._get_param("ClientRequestToken")
        try:
            return original_response(self)
        finally:
            _token[0] = None

    CloudFormationResponse.execute_change_set = execute_change_set
    original_add = cfn_models.Stack._add_stack_event

    def add_stack_event(self: Any, *args: Any, **kwargs: Any) -> None:
        original_add(self, *args, **kwargs)
        if _token[0]:
            self.events[-1].client_request_token = _token[0]

    cfn_models.Stack._add_stack_event = add_stack_event


def _complete(service: Any) -> None:
    """The service's newest deployment has rolled out: every desired task runs."""
    service.running_count, service.pending_count = service.desired_count, 0
    for deployment in service.deployments[:1]:
        deployment.update(runningCount=service.desired_count, pendingCount=0)
        deployment.update(rolloutState="COMPLETED", rolloutStateReason="ECS deployment completed.")


def _patch_ecs_rollouts() -> None:
    from moto.core.utils import utcnow
    from moto.ecs import models as ecs_models

    original_init = ecs_models.Service.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        # Without DesiredCount (left to autoscaling) AWS starts 1 task; moto none.
        self.desired_count = self.desired_count or 1
        for deployment in self.deployments:
            deployment["desiredCount"] = self.desired_count
        _complete(self)

    ecs_models.Service.__init__ = init
    original_update = ecs_models.EC2ContainerServiceBackend.update_service

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        cluster = str(service_properties.get("cluster", "default")).rsplit("/", 1)[-1]
        name = str(service_properties.get("service", "")).rsplit("/", 1)[-1]
        existing = self.services.get(f"{cluster}:{name}")
        before = existing.task_definition if existing is not None else None
        service = original_update(self, service_properties)
        if before is not None and service.task_definition != before and service.deployments:
            new = dict(service.deployments[0])
            new.update(id=f"ecs-svc/{uuid.uuid4().int % 32**12}", createdAt=utcnow())
            new.update(taskDefinition=service.task_definition, updatedAt=utcnow())
            service.deployments = [new]
        _complete(service)
        return service

    ecs_models.EC2ContainerServiceBackend.update_service = update_service

    from moto.core.exceptions import JsonRESTError
    from moto.ecs.responses import EC2ContainerServiceResponse

    def unknown_operation(self: Any) -> Any:
        raise JsonRESTError("UnknownOperationException", "not supported by this endpoint")

    EC2ContainerServiceResponse.list_service_deployments = unknown_operation
    EC2ContainerServiceResponse.describe_service_deployments = unknown_operation
