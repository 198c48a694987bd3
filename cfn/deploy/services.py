"""`services`: how each service of an environment runs, one line each: the image tag of its
task definition, desired/running/pending tasks, the rollout state of its latest deployment,
healthy and unhealthy targets in its target group, its URL paths and discovery name.

Read from ECS and Elastic Load Balancing by the physical names `cfn.naming` gives, so it answers
even while CloudFormation is busy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cfn import naming
from cfn.config import Environment, Service
from cfn.deploy.aws import error_code

_ECS_BATCH = 10  # DescribeServices takes at most 10 services


@dataclass
class ServiceState:
    environment: str
    service: str
    deployed: bool
    path: str
    discovery: str
    image_tag: str | None = None
    desired: int = 0
    running: int = 0
    pending: int = 0
    rollout: str | None = None
    rollout_reason: str = ""
    deployments: int = 0
    targets: dict[str, int] = field(default_factory=dict)

    @property
    def healthy(self) -> int:
        return self.targets.get("healthy", 0)

    @property
    def unhealthy(self) -> int:
        return self.targets.get("unhealthy", 0)

    @property
    def ok(self) -> bool:
        """Deployed, its latest rollout not failed, no unhealthy target."""
        return self.deployed and self.rollout != "FAILED" and not self.unhealthy

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "healthy": self.healthy, "unhealthy": self.unhealthy}


def _image_tag(image: str) -> str:
    """`<registry>/<repo>:<tag>` -> tag; `<repo>@sha256:<digest>` -> the digest, shortened."""
    name = image.rsplit("/", 1)[-1]
    if "@" in name:
        return name.split("@", 1)[1][:19]
    return name.rsplit(":", 1)[1] if ":" in name else "(no tag)"


def _describe_services(ecs: Any, env: Environment) -> dict[str, dict[str, Any]]:
    names = [naming.ecs_service(env, s) for s in env.services]
    found: dict[str, dict[str, Any]] = {}
    for i in range(0, len(names), _ECS_BATCH):
        try:
            page = ecs.describe_services(
                cluster=naming.cluster(env), services=names[i : i + _ECS_BATCH]
            )
        except Exception as exc:
            if error_code(exc) == "ClusterNotFoundException":
                return {}
            raise
        for svc in page.get("services", []):
            if svc.get("status") != "INACTIVE":
                found[svc["serviceName"]] = svc
    return found


def _targets(elbv2: Any, env: Environment, service: Service) -> dict[str, int]:
    try:
        groups = elbv2.describe_target_groups(Names=[naming.target_group(env, service)])
    except Exception as exc:
        if error_code(exc) == "TargetGroupNotFound":
            return {}
        raise
    counts: dict[str, int] = {}
    arn = groups["TargetGroups"][0]["TargetGroupArn"]
    for target in elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]:
        state = target.get("TargetHealth", {}).get("State", "unknown")
        counts[state] = counts.get(state, 0) + 1
    return counts


def run(clients: Any, env: Environment) -> list[ServiceState]:
    described = _describe_services(clients.ecs, env)
    images: dict[str, str] = {}
    out = []
    for service in env.services:
        state = ServiceState(
            environment=env.name,
            service=service.name,
            deployed=False,
            path=", ".join(service.path_patterns),
            discovery=naming.discovery_host(env, service),
        )
        svc = described.get(naming.ecs_service(env, service))
        if svc is not None:
            task_def = svc.get("taskDefinition", "")
            if task_def and task_def not in images:
                containers = clients.ecs.describe_task_definition(taskDefinition=task_def)[
                    "taskDefinition"
                ]["containerDefinitions"]
                main = next((c for c in containers if c["name"] == service.name), containers[0])
                images[task_def] = _image_tag(main["image"])
            deployments = svc.get("deployments", [])
            latest = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
            state.deployed = True
            state.image_tag = images.get(task_def)
            state.desired = svc.get("desiredCount", 0)
            state.running = svc.get("runningCount", 0)
            state.pending = svc.get("pendingCount", 0)
            state.deployments = len(deployments)
            if latest is not None:
                state.rollout = latest.get("rolloutState")
                state.rollout_reason = latest.get("rolloutStateReason", "") or ""
            state.targets = _targets(clients.elbv2, env, service)
        out.append(state)
    return out


_HEADER = ("ENV", "SERVICE", "TAG", "TASKS d/r/p", "ROLLOUT", "TARGETS", "PATH", "DISCOVERY")


def _row(s: ServiceState) -> tuple[str, ...]:
    if not s.deployed:
        return (s.environment, s.service, "-", "-", "not deployed", "-", s.path, s.discovery)
    rollout = s.rollout or "-"
    if s.deployments > 1:
        rollout += f" ({s.deployments} deployments)"
    others = sum(n for k, n in s.targets.items() if k not in ("healthy", "unhealthy"))
    targets = f"{s.healthy} healthy, {s.unhealthy} unhealthy" + (
        f", {others} other" if others else ""
    )
    return (
        s.environment,
        s.service,
        s.image_tag or "-",
        f"{s.desired}/{s.running}/{s.pending}",
        rollout,
        targets,
        s.path,
        s.discovery,
    )


def to_text(states: list[ServiceState], with_env: bool) -> str:
    """A table, one line per service (and the reason of each failed rollout below it)."""
    rows = [_HEADER, *(_row(s) for s in states)]
    if not with_env:
        rows = [r[1:] for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    for s in states:
        if s.rollout == "FAILED" and s.rollout_reason:
            lines.append(f"{s.environment}/{s.service}: rollout failed: {s.rollout_reason}")
    return "\n".join(lines)
