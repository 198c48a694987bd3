"""The rollback alarms (issue 14): CloudWatch alarms a deployment is rolled back on.

- edge: the load balancer's 5xx responses per minute (its own and its targets');
- each service: unhealthy targets in its target group; running tasks below its minimum;
- root: composite alarms, each `ALARM(a) OR ALARM(b) ...` over at most `PER_COMPOSITE` of the
  above, named by `naming.rollback_alarm`. The deploy is to pass their ARNs (the root's
  `RollbackAlarmArns` output) as the change set's rollback triggers: CloudFormation takes at most
  five triggers, composites let any number of services fit.

Thresholds and evaluation time are the environment's config (`alarm_*`). The alarms have no
actions: CloudFormation watching them is their purpose (Guard's CT.CLOUDWATCH.PR.1 suppressed).
"""

from __future__ import annotations

from collections.abc import Sequence

from troposphere import GetAtt, Parameter, Ref, cloudformation, cloudwatch
from troposphere import elasticloadbalancingv2 as elb

from cfn import naming
from cfn.config import Environment, Service
from cfn.stacks.audit import NO_ALARM_ACTION, guard_suppressions

MINUTE = 60
# AWS allows 100 alarms in a composite rule and 5 rollback triggers:
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_RollbackConfiguration.html
PER_COMPOSITE = 100
MAX_TRIGGERS = 5


def _common(env: Environment, name: str, description: str) -> dict[str, object]:
    return {
        "AlarmName": name,
        "AlarmDescription": description,
        "EvaluationPeriods": env.alarm_evaluation_minutes,
        "DatapointsToAlarm": env.alarm_evaluation_minutes,
        "ActionsEnabled": True,
        "Metadata": guard_suppressions(NO_ALARM_ACTION),
    }


def _metric(stat_id: str, name: str, dimensions: dict[str, object]) -> cloudwatch.MetricDataQuery:
    return cloudwatch.MetricDataQuery(
        Id=stat_id,
        ReturnData=False,
        MetricStat=cloudwatch.MetricStat(
            Metric=cloudwatch.Metric(
                Namespace="AWS/ApplicationELB",
                MetricName=name,
                Dimensions=[
                    cloudwatch.MetricDimension(Name=k, Value=v) for k, v in dimensions.items()
                ],
            ),
            Period=MINUTE,
            Stat="Sum",
        ),
    )


def load_balancer_5xx(env: Environment, alb: elb.LoadBalancer) -> cloudwatch.Alarm:
    """5xx per minute, the load balancer's and the targets' together, at or over the threshold."""
    dims = {"LoadBalancer": GetAtt(alb, "LoadBalancerFullName")}
    return cloudwatch.Alarm(
        "Alb5xxAlarm",
        **_common(
            env,
            naming.alb_5xx_alarm(env),
            f"{naming.load_balancer(env)}: {env.alarm_5xx_per_minute}+ 5xx responses a minute",
        ),
        Metrics=[
            _metric("elb", "HTTPCode_ELB_5XX_Count", dims),
            _metric("targets", "HTTPCode_Target_5XX_Count", dims),
            cloudwatch.MetricDataQuery(
                Id="errors",
                Expression="FILL(elb, 0) + FILL(targets, 0)",
                Label="5xx responses per minute",
                ReturnData=True,
            ),
        ],
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Threshold=float(env.alarm_5xx_per_minute),
        TreatMissingData="notBreaching",
    )


def unhealthy_targets(
    env: Environment, service: Service, load_balancer: Parameter, targets: elb.TargetGroup
) -> cloudwatch.Alarm:
    """The target group's unhealthy targets at or over the threshold."""
    return cloudwatch.Alarm(
        "UnhealthyTargetsAlarm",
        **_common(
            env,
            naming.unhealthy_targets_alarm(env, service),
            f"{service.name}: {env.alarm_unhealthy_targets}+ unhealthy targets",
        ),
        Namespace="AWS/ApplicationELB",
        MetricName="UnHealthyHostCount",
        Dimensions=[
            cloudwatch.MetricDimension(Name="LoadBalancer", Value=Ref(load_balancer)),
            cloudwatch.MetricDimension(
                Name="TargetGroup", Value=GetAtt(targets, "TargetGroupFullName")
            ),
        ],
        Statistic="Maximum",
        Period=MINUTE,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Threshold=float(env.alarm_unhealthy_targets),
        TreatMissingData="notBreaching",
    )


def minimum_tasks(env: Environment, service: Service) -> int:
    """The fewest tasks the service should ever run: autoscaling's minimum, or its count."""
    size = env.sizing_of(service)
    return size.min_count if size.autoscaling else size.desired_count


def running_tasks(env: Environment, service: Service, cluster: Parameter) -> cloudwatch.Alarm:
    """Container Insights' running task count below the service's minimum."""
    return cloudwatch.Alarm(
        "RunningTasksAlarm",
        **_common(
            env,
            naming.running_tasks_alarm(env, service),
            f"{service.name}: fewer than {minimum_tasks(env, service)} running tasks",
        ),
        Namespace="ECS/ContainerInsights",
        MetricName="RunningTaskCount",
        Dimensions=[
            cloudwatch.MetricDimension(Name="ClusterName", Value=Ref(cluster)),
            cloudwatch.MetricDimension(Name="ServiceName", Value=naming.ecs_service(env, service)),
        ],
        Statistic="Minimum",
        Period=MINUTE,
        ComparisonOperator="LessThanThreshold",
        Threshold=float(minimum_tasks(env, service)),
        # No data: the service is not there yet (first deployment), not a failure.
        TreatMissingData="missing",
    )


def alarm_names(env: Environment) -> list[str]:
    """Every rollback alarm of the environment, in the order the composites list them."""
    names = [naming.alb_5xx_alarm(env)]
    for s in env.services:
        names += [naming.unhealthy_targets_alarm(env, s), naming.running_tasks_alarm(env, s)]
    return names


def composites(
    env: Environment, stacks: Sequence[cloudformation.Stack]
) -> list[cloudwatch.CompositeAlarm]:
    """The root's composite alarms over every rollback alarm; created after `stacks` (which
    hold the alarms they name)."""
    names = alarm_names(env)
    chunks = [names[i : i + PER_COMPOSITE] for i in range(0, len(names), PER_COMPOSITE)]
    return [
        cloudwatch.CompositeAlarm(
            f"RollbackAlarm{n}",
            DependsOn=[s.title for s in stacks],
            AlarmName=naming.rollback_alarm(env, n),
            AlarmDescription=f"{naming.prefix(env)}: any rollback alarm ({len(chunk)} alarms)",
            AlarmRule=" OR ".join(f'ALARM("{name}")' for name in chunk),
            ActionsEnabled=True,
            Metadata=guard_suppressions(NO_ALARM_ACTION),
        )
        for n, chunk in enumerate(chunks, start=1)
    ]
