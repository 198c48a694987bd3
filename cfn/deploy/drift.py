"""Drift at plan time: which resources of the environment's stacks (root and nested) were changed
outside CloudFormation (in the console, by hand), so the review can say what a change would
overwrite.

DetectStackDrift is started on every stack at once, then polled with
DescribeStackDriftDetectionStatus within one time budget; DescribeStackResourceDrifts lists the
modified and deleted resources. Detection is advisory: when it cannot run (no permission, an
emulator without the API, the time budget spent) the report says "drift not checked: <reason>"
and the plan goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from cfn.deploy.aws import error_code
from cfn.deploy.changesets import pages

DRIFT_TIMEOUT = 60.0
_POLL = 2.0


@dataclass(frozen=True)
class PropertyDrift:
    path: str  # e.g. /DesiredCount (relative to the resource's properties)
    expected: str
    actual: str
    kind: str  # ADD, REMOVE, NOT_EQUAL

    def text(self) -> str:
        return f"{self.path}: template {self.expected or '∅'}, actual {self.actual or '∅'}"


@dataclass(frozen=True)
class ResourceDrift:
    stack: str  # "" for the root, else the nested stack's logical id path
    logical_id: str
    resource_type: str
    status: str  # MODIFIED or DELETED
    properties: tuple[PropertyDrift, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.stack}/{self.logical_id}" if self.stack else self.logical_id

    def summary(self) -> str:
        if self.status == "DELETED":
            return "deleted outside CloudFormation"
        return "; ".join(p.text() for p in self.properties) or "modified outside CloudFormation"


@dataclass
class DriftReport:
    checked: bool
    reason: str = ""  # why not checked, or what was partial
    stacks: int = 0
    resources: list[ResourceDrift] = field(default_factory=list)

    def line(self) -> str:
        if not self.checked:
            return f"drift not checked: {self.reason}"
        n = len(self.resources)
        text = f"drift checked on {self.stacks} stack(s): "
        text += f"{n} resource(s) changed outside CloudFormation" if n else "none"
        return text + (f" ({self.reason})" if self.reason else "")

    def overwritten_by(self, change: Any) -> list[str]:
        """What of this resource's drift the change would overwrite (empty: none)."""
        drift = next(
            (
                d
                for d in self.resources
                if (d.stack, d.logical_id) == (change.stack, change.logical_id)
            ),
            None,
        )
        if drift is None or change.risk == "no-op":
            return []
        if drift.status == "DELETED" or change.action == "Remove" or change.replacement == "True":
            return [f"overwrites a change made outside CloudFormation: {drift.summary()}"]
        touched = [d.path for d in change.details if d.path.startswith("/")]

        def overlaps(p: PropertyDrift) -> bool:
            drifted = "/Properties" + p.path
            return any(t.startswith(drifted) or drifted.startswith(t) for t in touched)

        # Without property paths, assume the update touches what drifted.
        hit = [p for p in drift.properties if not touched or overlaps(p)]
        if hit:
            return [
                "overwrites a change made outside CloudFormation: "
                + "; ".join(p.text() for p in hit)
            ]
        return [f"drifted outside CloudFormation (not touched by this change): {drift.summary()}"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "reason": self.reason,
            "stacks": self.stacks,
            "resources": [asdict(r) for r in self.resources],
        }


def _stacks(cfn: Any, stack_id: str, path: str = "") -> Iterator[tuple[str, str]]:
    """(logical id path, stack id) of the stack and every nested stack under it."""
    yield path, stack_id
    for page in pages(cfn.list_stack_resources, StackName=stack_id):
        for r in page.get("StackResourceSummaries", []):
            physical = r.get("PhysicalResourceId") or ""
            if r.get("ResourceType") == "AWS::CloudFormation::Stack" and physical:
                child = f"{path}/{r['LogicalResourceId']}" if path else r["LogicalResourceId"]
                yield from _stacks(cfn, physical, child)


def _resource_drifts(cfn: Any, path: str, stack_id: str) -> list[ResourceDrift]:
    found = []
    for page in pages(
        cfn.describe_stack_resource_drifts,
        StackName=stack_id,
        StackResourceDriftStatusFilters=["MODIFIED", "DELETED"],
    ):
        for d in page.get("StackResourceDrifts", []):
            found.append(
                ResourceDrift(
                    stack=path,
                    logical_id=d["LogicalResourceId"],
                    resource_type=d.get("ResourceType", ""),
                    status=d.get("StackResourceDriftStatus", ""),
                    properties=tuple(
                        PropertyDrift(
                            p.get("PropertyPath", ""),
                            p.get("ExpectedValue", ""),
                            p.get("ActualValue", ""),
                            p.get("DifferenceType", ""),
                        )
                        for p in d.get("PropertyDifferences", [])
                    ),
                )
            )
    return found


def _detect(
    cfn: Any,
    stack: str,
    timeout: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> DriftReport:
    started = clock()
    stacks = list(_stacks(cfn, stack))
    detections = {
        path: (sid, cfn.detect_stack_drift(StackName=sid)["StackDriftDetectionId"])
        for path, sid in stacks
    }
    pending, drifted, failed = dict(detections), [], []
    while pending:
        for path, (sid, detection) in list(pending.items()):
            status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
            if status["DetectionStatus"] == "DETECTION_IN_PROGRESS":
                continue
            del pending[path]
            if status["DetectionStatus"] == "DETECTION_FAILED":
                failed.append(path or "(root)")
            if status.get("StackDriftStatus") == "DRIFTED" or status.get(
                "DriftedStackResourceCount"
            ):
                drifted.append((path, sid))
        if pending:
            if clock() - started > timeout:
                return DriftReport(False, f"timed out after {int(timeout)} s", len(stacks))
            sleep(_POLL)
    resources = [r for path, sid in drifted for r in _resource_drifts(cfn, path, sid)]
    reason = f"detection failed for {', '.join(failed)}" if failed else ""
    return DriftReport(True, reason, len(stacks), sorted(resources, key=lambda r: r.where))


def detect(
    cfn: Any,
    stack: str,
    *,
    timeout: float = DRIFT_TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> DriftReport:
    """Drift of `stack` and its nested stacks, within `timeout` seconds; never raises for AWS
    errors: the report then says why drift was not checked."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    try:
        return _detect(cfn, stack, timeout, sleep, clock)
    except ClientError as exc:
        code = error_code(exc)
        message = exc.response.get("Error", {}).get("Message", "")
        return DriftReport(False, f"{exc.operation_name}: {code}: {message}".rstrip(": "))
    except (BotoCoreError, ResponseParserError):
        # An emulator without the drift API answers with an error page, not an AWS response.
        return DriftReport(False, "the endpoint did not answer the drift detection calls")
