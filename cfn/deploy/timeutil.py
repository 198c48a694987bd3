"""Times as the operating commands read and print them: durations like `10m` or `7d` from the
command line, and instants as ISO 8601 in UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from cfn.deploy.errors import DeployError

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"^(\d+)([smhdw])$")


def parse_duration(text: str, option: str) -> timedelta:
    """`90s`, `10m`, `2h`, `7d`, `1w` -> timedelta; a clear error naming the option otherwise."""
    match = _DURATION.match(text.strip())
    if not match:
        raise DeployError(
            f"{option} {text!r} is not a duration",
            "use a number and a unit: 90s, 10m, 2h, 7d or 1w",
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def iso(value: datetime | None) -> str | None:
    """An instant as ISO 8601 in UTC, to the second: `2026-11-30T07:04:51Z`."""
    if value is None:
        return None
    if value.tzinfo is None:  # botocore always gives aware datetimes; be safe with others
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(millis: int) -> str:
    """A CloudWatch Logs timestamp (milliseconds since the epoch) as ISO 8601 UTC, to the ms."""
    moment = datetime.fromtimestamp(millis / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def now() -> datetime:
    return datetime.now(UTC)
