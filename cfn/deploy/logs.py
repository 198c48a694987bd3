"""`logs`: a service's CloudWatch log lines, oldest first (newest last), each with the time and
the ECS task it came from, and `follow` to keep printing new ones.

The awslogs driver names each stream `ecs/<container>/<task-id>`, so the task id is the stream
name's last part. Following uses CloudWatch Logs Live Tail; where it is not available (no
permission, an endpoint without it) it falls back to polling `FilterLogEvents` every few
seconds. A live-tail session ends after a while (AWS: 3 hours; emulators: at once); one poll
catches up on what came between two sessions, then the next starts after the same pause.
Lines seen already are not printed again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from cfn import naming
from cfn.config import Environment, Service
from cfn.deploy.aws import error_code
from cfn.deploy.errors import DeployError
from cfn.deploy.timeutil import iso_ms

POLL_SECONDS = 2.0
# Polling looks this far back each time: lines from several streams arrive out of order.
LOOKBACK_MS = 60_000
_SEEN_LIMIT = 10_000  # remembered lines, to drop repeats between sessions or polls


@dataclass(frozen=True)
class LogLine:
    timestamp: int  # milliseconds since the epoch, as CloudWatch Logs gives it
    task_id: str
    stream: str
    message: str

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.timestamp, self.stream, self.message)

    def text(self) -> str:
        return f"{iso_ms(self.timestamp)}  {self.task_id}  {self.message.rstrip()}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "time": iso_ms(self.timestamp)}


def _line(raw: dict[str, Any]) -> LogLine:
    stream = raw.get("logStreamName", "")
    return LogLine(raw["timestamp"], stream.rsplit("/", 1)[-1], stream, raw.get("message", ""))


def service_of(env: Environment, name: str) -> Service:
    known = [s.name for s in env.services]
    if name not in known:
        raise DeployError(f"unknown service {name!r} in {env.name}", f"known: {', '.join(known)}")
    return env.service(name)


def log_group_arn(logs: Any, env: Environment, service: Service) -> str:
    """The log group's ARN (without the `:*` suffix); a clear error when it does not exist."""
    group = naming.log_group(env, service)
    for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=group):
        for g in page.get("logGroups", []):
            if g["logGroupName"] == group:
                return g["arn"].removesuffix(":*")
    raise DeployError(
        f"log group {group} does not exist: {service.name} is not deployed in {env.name}",
        f"see bin/deploy status --env {env.name}",
    )


def history(logs: Any, group: str, start_ms: int, pattern: str | None) -> list[LogLine]:
    """Every line since `start_ms`, oldest first (sorted: events come per stream)."""
    args: dict[str, Any] = {"logGroupName": group, "startTime": start_ms}
    if pattern:
        args["filterPattern"] = pattern
    lines = [
        _line(e)
        for page in logs.get_paginator("filter_log_events").paginate(**args)
        for e in page.get("events", [])
    ]
    return sorted(lines, key=lambda x: x.key)


class _Seen:
    """The lines printed already, bounded."""

    def __init__(self, lines: Iterable[LogLine]) -> None:
        self.keys = {line.key for line in lines}

    def new(self, lines: Iterable[LogLine]) -> Iterator[LogLine]:
        for line in sorted(lines, key=lambda x: x.key):
            if line.key not in self.keys:
                self.keys.add(line.key)
                yield line
        if len(self.keys) > _SEEN_LIMIT:
            newest = sorted(self.keys)[-_SEEN_LIMIT // 2 :]
            self.keys = set(newest)


def _live_tail(logs: Any, arn: str, pattern: str | None) -> Iterator[list[LogLine]]:
    args: dict[str, Any] = {"logGroupIdentifiers": [arn]}
    if pattern:
        args["logEventFilterPattern"] = pattern
    for event in logs.start_live_tail(**args)["responseStream"]:
        results = event.get("sessionUpdate", {}).get("sessionResults", [])
        if results:
            yield [_line(r) for r in results]


def follow(
    logs: Any,
    *,
    group: str,
    arn: str,
    start_ms: int,
    pattern: str | None,
    already: Iterable[LogLine],
    on_line: Callable[[LogLine], None],
    progress: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Print new lines until interrupted (KeyboardInterrupt goes to the caller)."""
    seen = _Seen(already)
    live = True
    while True:
        if live:
            try:
                for batch in _live_tail(logs, arn, pattern):
                    for line in seen.new(batch):
                        on_line(line)
                        start_ms = max(start_ms, line.timestamp - LOOKBACK_MS)
            except Exception as exc:
                if error_code(exc) != "SessionTimeoutException":  # else: start the next one
                    live = False
                    why = error_code(exc) or type(exc).__name__
                    progress(f"live tail not available ({why}): polling every {POLL_SECONDS:g} s")
        # Polling; with live tail, the catch-up for lines sent between two sessions.
        for line in seen.new(history(logs, group, start_ms, pattern)):
            on_line(line)
            start_ms = max(start_ms, line.timestamp - LOOKBACK_MS)
        sleep(POLL_SECONDS)
