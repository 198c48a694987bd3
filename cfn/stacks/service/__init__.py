"""Service template: one containerised HTTP service on Fargate. The same builder for every
service; the differences come from the config only.

`build` composes one small, pure function per concern (as AWS Copilot composes a workload
template from one partial per concern), each in its own module:
- `inputs`: the image tag, and the network, edge and cluster values the root passes in;
- `task`: the log group `/ecs/<project>-<env>/<service>` and the Fargate task definition
  (image at the `ImageTag` parameter, environment, secrets by name, discovery URLs, awslogs);
- `roles`: the execution role (image, logs, exactly this service's secrets) and the task role
  (only what config grants), both trusting ECS tasks of this account only;
- `routing`: the target group and listener rule (from the ALB), the Cloud Map service (from the
  other services);
- `running`: the ECS service and its CPU target-tracking autoscaling;
- `cfn.stacks.alarms`: the rollback alarms (unhealthy targets, running tasks below minimum).

Outputs: ServiceName, TargetGroupArn, LogGroupName, DiscoveryHost, UnhealthyTargetsAlarmArn,
RunningTasksAlarmArn.
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, Template

from cfn import naming
from cfn.config import Environment, Service
from cfn.stacks import alarms
from cfn.stacks._common import add_output, new_template
from cfn.stacks.service import roles, routing, running, task
from cfn.stacks.service.inputs import parameters


def build(env: Environment, service: Service) -> Template:
    t = new_template(env, f"service {service.name} (Fargate, ALB target, discovery, scaling)")
    inputs = parameters(t, env, service)
    logs_to = t.add_resource(task.log_group(env, service, inputs.logs_key))
    execution = t.add_resource(roles.execution_role(env, service))
    application = t.add_resource(roles.task_role(env, service))
    task_definition = t.add_resource(
        task.task_definition(env, service, logs_to, execution, application)
    )
    targets = t.add_resource(routing.target_group(env, service, inputs.vpc_id))
    rule = t.add_resource(routing.listener_rule(service, inputs.listener, targets))
    discovery = t.add_resource(routing.discovery_service(env, service, inputs.namespace))
    ecs_service = t.add_resource(
        running.ecs_service(env, service, inputs, task_definition, (targets, rule), discovery)
    )
    for resource in running.autoscaling(env, service):
        t.add_resource(resource)
    unhealthy = t.add_resource(
        alarms.unhealthy_targets(env, service, inputs.load_balancer, targets)
    )
    too_few = t.add_resource(alarms.running_tasks(env, service, inputs.cluster))

    add_output(t, "ServiceName", GetAtt(ecs_service, "Name"), "Name of the ECS service")
    add_output(t, "TargetGroupArn", Ref(targets), "ARN of the service's target group")
    add_output(t, "LogGroupName", Ref(logs_to), "Log group of the service's containers")
    add_output(
        t,
        "DiscoveryHost",
        naming.discovery_host(env, service),
        "Host name other services reach this one by",
    )
    add_output(
        t, "UnhealthyTargetsAlarmArn", GetAtt(unhealthy, "Arn"), "Rollback alarm: unhealthy targets"
    )
    add_output(t, "RunningTasksAlarmArn", GetAtt(too_few, "Arn"), "Rollback alarm: too few tasks")
    return t
