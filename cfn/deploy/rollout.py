"""Watching an ECS service roll out while its stack updates, and the verdict at the end.

CloudFormation only says `UPDATE_IN_PROGRESS AWS::ECS::Service` until ECS gives up; the reason
(a wrong tag, a missing secret, a failing health check) is in ECS and the load balancer. Each
`poll` reads the service (its deployments and events), its stopped tasks, the unhealthy targets
of its target groups and, where the API has them, ECS's service-deployment records, and returns
one `Change` per thing that changed since the last poll. `verdict` says, once the stack has
settled, whether the new tag runs and is healthy, or the first concrete reason it does not.

Only what started at or after `since` (the operation's start) belongs to this deployment.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from cfn.deploy.aws import error_code

# What ECS answers when an endpoint (an emulator, an old region) lacks the deployments API.
_NO_API = {"UnknownOperationException", "InvalidAction", "NotImplemented", "404", "501"}
# Reasons that say what to fix, preferred over "Essential container in task exited" and the like.
_CONCRETE = ("CannotPullContainerError", "ResourceInitializationError", "health check ")
_ROLLED_BACK = {"ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "ROLLBACK_IN_PROGRESS", "STOPPED"}
# "failed to fetch secret arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf from ..."
_SECRET = re.compile(
    r"secret[: ]?(?:arn:aws[\w-]*:secretsmanager:[\w-]+:\d+:secret:)?([\w/+=.@-]+)"
)


@dataclass(frozen=True)
class Change:
    """One thing that changed in a service's rollout: one line, or one JSON event."""

    service: str
    kind: str
    text: str

    def line(self) -> str:
        return f"  {self.service}: {self.text}"

    def to_dict(self) -> dict[str, str]:
        return {"type": "rollout", "service": self.service, "kind": self.kind, "text": self.text}


@dataclass(frozen=True)
class Verdict:
    service: str
    ok: bool
    text: str

    def line(self) -> str:
        return f"{self.service}: {'rolled out' if self.ok else 'FAILED'}: {self.text}"

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "ok": self.ok, "text": self.text}


def concrete(reason: str) -> str:
    """The part of an ECS reason that says what to fix, the secret named where there is one."""
    for marker in ("CannotPullContainerError", "ResourceInitializationError", "CannotStart"):
        if marker in reason:
            reason = reason[reason.index(marker) :]
            break
    if "ResourceInitializationError" in reason and "secret" in reason:
        found = _SECRET.search(reason.split("failed to fetch", 1)[-1])
        if found:
            name = re.sub(r"-[A-Za-z0-9]{6}$", "", found.group(1))
            return f"secret {name} cannot be read (ResourceInitializationError): {reason}"
    return reason


@dataclass
class ServiceRollout:
    """One ECS service's rollout as seen through the ECS and ELBv2 APIs."""

    name: str  # the service's name in the configuration
    cluster: str
    ecs_service: str
    tag: str | None  # the image tag expected to run, when known
    health_check_path: str
    since: dt.datetime
    ecs: Any
    elbv2: Any
    deployments_api: bool = True
    ours: dict[str, Any] | None = None
    newer: bool = False  # a deployment after ours: ECS rolled back (or someone else deployed)
    record: dict[str, Any] | None = None  # ECS's service-deployment record, where available
    reasons: list[str] = field(default_factory=list)
    _said: dict[str, str] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set)
    _target_groups: list[str] = field(default_factory=list)

    def _once(self, key: str) -> bool:
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def _changed(self, key: str, text: str) -> bool:
        if self._said.get(key) == text:
            return False
        self._said[key] = text
        return True

    def _reason(self, text: str) -> None:
        if text not in self.reasons:
            self.reasons.append(text)

    def first_reason(self) -> str:
        """The first reason that names what to fix; else the first reason seen."""
        concrete_ones = [r for r in self.reasons if any(m in r for m in _CONCRETE)]
        return next(iter(concrete_ones or self.reasons), "")

    def poll(self) -> list[Change]:
        described = self.ecs.describe_services(cluster=self.cluster, services=[self.ecs_service])
        services = described.get("services", [])
        if not services or services[0].get("status") == "INACTIVE":
            return []  # not created yet
        svc = services[0]
        self._target_groups = [
            lb["targetGroupArn"] for lb in svc.get("loadBalancers", []) if lb.get("targetGroupArn")
        ]
        out = self._deployment(svc)
        out += self._service_events(svc)
        if self.ours is not None:
            out += self._record()
            out += self._stopped_tasks()
            out += self._targets()
        return out

    def _deployment(self, svc: dict[str, Any]) -> list[Change]:
        mine = sorted(
            (
                d
                for d in svc.get("deployments", [])
                if d.get("createdAt") and d["createdAt"] >= self.since
            ),
            key=lambda d: d["createdAt"],
        )
        if not mine:
            return []
        first = mine[0]
        if self.ours is None or self.ours["id"] == first["id"]:
            self.ours = first
        self.newer = len(mine) > 1
        d = self.ours
        text = (
            f"deployment {d['id']} {d.get('rolloutState', d.get('status', '?'))}: "
            f"{d.get('desiredCount', 0)} desired, {d.get('pendingCount', 0)} pending, "
            f"{d.get('runningCount', 0)} running, {d.get('failedTasks', 0)} failed"
        )
        return [Change(self.name, "deployment", text)] if self._changed("deployment", text) else []

    def _service_events(self, svc: dict[str, Any]) -> list[Change]:
        new = [
            e
            for e in svc.get("events", [])
            if e.get("createdAt") and e["createdAt"] >= self.since and self._once(e["id"])
        ]
        return [Change(self.name, "event", e["message"]) for e in reversed(new)]

    def _record(self) -> list[Change]:
        """ECS's service-deployment record: status, circuit breaker, rollback."""
        if not self.deployments_api:
            return []
        try:
            listed = self.ecs.list_service_deployments(
                cluster=self.cluster, service=self.ecs_service, createdAt={"after": self.since}
            )
            summaries = listed.get("serviceDeployments", [])
            if not summaries:
                return []
            # Ours is the first since the operation started (a rollback is recorded in it).
            first = min(summaries, key=lambda d: d.get("createdAt") or self.since)
            found = self.ecs.describe_service_deployments(
                serviceDeploymentArns=[first["serviceDeploymentArn"]]
            )
        except Exception as exc:
            if error_code(exc) in _NO_API or type(exc).__name__ == "ResponseParserError":
                self.deployments_api = False  # fall back to DescribeServices alone
                return []
            raise
        records = found.get("serviceDeployments", [])
        if not records:
            return []
        self.record = r = records[0]
        breaker = r.get("deploymentCircuitBreaker", {})
        text = f"ECS deployment {r.get('status', '?')}"
        if breaker.get("failureCount"):
            text += (
                f" (circuit breaker: {breaker['failureCount']}/{breaker.get('threshold')} failed)"
            )
        if r.get("statusReason"):
            text += f": {r['statusReason']}"
        return [Change(self.name, "ecs_deployment", text)] if self._changed("record", text) else []

    def _stopped_tasks(self) -> list[Change]:
        arns = self.ecs.list_tasks(
            cluster=self.cluster, serviceName=self.ecs_service, desiredStatus="STOPPED"
        ).get("taskArns", [])
        new = [a for a in arns if a not in self._seen]
        if not new:
            return []
        out = []
        for task in self.ecs.describe_tasks(cluster=self.cluster, tasks=new[:100]).get("tasks", []):
            self._seen.add(task["taskArn"])
            if task.get("createdAt") and task["createdAt"] < self.since:
                continue
            parts = [task.get("stoppedReason", "stopped")]
            parts += [
                f"container {c.get('name')}: {c['reason']}"
                for c in task.get("containers", [])
                if c.get("reason")
            ]
            for p in parts:
                self._reason(concrete(p))
            short = task["taskArn"].rsplit("/", 1)[-1][:8]
            out.append(
                Change(self.name, "task_stopped", f"task {short} stopped: {'; '.join(parts)}")
            )
        return out

    def _targets(self) -> list[Change]:
        out = []
        for arn in self._target_groups:
            health = self.elbv2.describe_target_health(TargetGroupArn=arn)
            for t in health.get("TargetHealthDescriptions", []):
                h = t.get("TargetHealth", {})
                if h.get("State") != "unhealthy":
                    continue
                target = f"{t['Target']['Id']}:{t['Target'].get('Port', '')}"
                text = (
                    f"health check {self.health_check_path} failed on {target}: "
                    f"{h.get('Description', '')} ({h.get('Reason', '')})"
                )
                if self._once(text):
                    self._reason(text)
                    out.append(Change(self.name, "target_unhealthy", text))
        return out

    def _image_tag(self) -> str | None:
        if not self.ours or not self.ours.get("taskDefinition"):
            return None
        task_def = self.ecs.describe_task_definition(taskDefinition=self.ours["taskDefinition"])
        images = [c.get("image", "") for c in task_def["taskDefinition"]["containerDefinitions"]]
        return images[0].rsplit(":", 1)[-1] if images and ":" in images[0] else None

    def verdict(self, stack_failed: bool) -> Verdict:
        """Rolled out (the new tag runs, healthy) or failed with the first concrete reason."""
        d = self.ours
        if d is None:
            why = "no ECS deployment of this service started"
            return Verdict(self.name, False, why) if stack_failed else Verdict(self.name, True, why)
        status = (self.record or {}).get("status", "")
        rolled_back = status in _ROLLED_BACK or (
            self.newer and d.get("rolloutState") != "COMPLETED"
        )
        failed = d.get("rolloutState") == "FAILED" or rolled_back or stack_failed
        if failed:
            reason = (
                self.first_reason()
                or d.get("rolloutStateReason", "")
                or (self.record or {}).get("statusReason", "")
            )
            if not reason and d.get("rolloutState") == "COMPLETED":
                reason = "its own rollout completed; the stack failed elsewhere and rolled it back"
            text = reason or "the stack failed; see the events above"
            if rolled_back:
                text += " (the circuit breaker rolled the service back)"
            return Verdict(self.name, False, text)
        running = f"{d.get('runningCount', 0)}/{d.get('desiredCount', 0)} running"
        if d.get("rolloutState") not in (None, "COMPLETED"):
            why = self.first_reason() or d.get("rolloutStateReason", "")
            return Verdict(
                self.name, False, f"not settled: {running}" + (f"; {why}" if why else "")
            )
        tag = self._image_tag()
        if self.tag and tag and tag != self.tag:
            return Verdict(self.name, False, f"running tag {tag}, not {self.tag}")
        return Verdict(self.name, True, f"{tag or self.tag or 'new task definition'}, {running}")
