"""`check_in` items (docs/protocol.md#check-ins): what one says, checked field by field.

A check-in that cannot be stored becomes an `invalid` outcome with a reason, never an error
for the whole envelope: its other items are kept, as Relay keeps them.
"""

import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from store.crontab import InvalidSchedule
from store.schedules import Schedule, crontab_schedule, interval_schedule, zone_of

STATUSES = frozenset({"in_progress", "ok", "error"})
MAX_SLUG = 50  # Sentry's limit on a monitor slug
MAX_MINUTES = 40_320  # 28 days: the longest margin or runtime accepted
DEFAULT_MARGIN = 1  # minutes, as Sentry
DEFAULT_MAX_RUNTIME = 30  # minutes, as Sentry
MAX_DURATION = 366 * 86_400.0  # seconds
TRACE_ID = re.compile(r"[0-9a-f]{32}")
NOT_SLUG = re.compile(r"[^a-z0-9_-]+")


class InvalidCheckIn(ValueError):
    """Why a check-in is refused: the outcome's reason."""


@dataclass(frozen=True)
class MonitorConfig:
    schedule: Schedule
    checkin_margin: int
    max_runtime: int
    timezone: str


@dataclass(frozen=True)
class CheckInItem:
    """One check-in as it will be stored; `config` when it carried a `monitor_config`."""

    check_in_id: str
    slug: str
    status: str
    duration: float | None
    release: str | None
    environment: str | None
    trace_id: str | None
    received_at: datetime
    config: MonitorConfig | None

    @property
    def started_at(self) -> datetime:
        """A finished run sent alone (no in_progress first) began `duration` before it."""
        if self.status == "in_progress" or self.duration is None:
            return self.received_at
        return self.received_at - timedelta(seconds=self.duration)


def slug_of(value: object) -> str:
    """Sentry's slug rules: lower case, letters, digits, `-` and `_`, at most 50."""
    if not isinstance(value, str):
        raise InvalidCheckIn("missing monitor_slug")
    slug = NOT_SLUG.sub("-", value.strip().lower()[: MAX_SLUG * 4]).strip("-")[:MAX_SLUG]
    if not slug:
        raise InvalidCheckIn("invalid monitor_slug")
    return slug


def check_in_id_of(value: object) -> str:
    if not isinstance(value, str) or len(value) > 36:
        raise InvalidCheckIn("invalid check_in_id")
    try:
        return uuid.UUID(value).hex
    except ValueError:
        raise InvalidCheckIn("invalid check_in_id") from None


def _minutes(config: dict[str, Any], name: str, default: int) -> int:
    value = config.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidCheckIn(f"invalid {name}")
    if not 0 <= value <= MAX_MINUTES:
        raise InvalidCheckIn(f"{name} must be 0-{MAX_MINUTES} minutes")
    return max(1, math.ceil(value))


def schedule_of(schedule: object) -> Schedule:
    if not isinstance(schedule, dict):
        raise InvalidSchedule("monitor_config.schedule must be an object")
    kind, value = schedule.get("type"), schedule.get("value")
    if kind == "crontab" and isinstance(value, str):
        return crontab_schedule(value)
    if kind == "interval":
        return interval_schedule(value, schedule.get("unit"))
    raise InvalidSchedule("schedule type is crontab (with a string) or interval")


def config_of(config: object, received_at: datetime) -> MonitorConfig:
    """A `monitor_config`, refused unless its schedule comes round (`0 0 31 2 *` never does)."""
    if not isinstance(config, dict):
        raise InvalidCheckIn("invalid monitor_config")
    timezone = config.get("timezone") or "UTC"
    try:
        schedule = schedule_of(config.get("schedule"))
        if not isinstance(timezone, str):
            raise InvalidSchedule("timezone must be a string")
        zone = zone_of(timezone)
        if schedule.next_after(received_at, zone) is None:
            raise InvalidSchedule("the schedule never runs")
    except InvalidSchedule:
        raise InvalidCheckIn("invalid schedule") from None
    return MonitorConfig(
        schedule,
        _minutes(config, "checkin_margin", DEFAULT_MARGIN),
        _minutes(config, "max_runtime", DEFAULT_MAX_RUNTIME),
        timezone,
    )


def _text(value: object, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _duration(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and 0 <= value <= MAX_DURATION else None


def _trace_id(item: dict[str, Any]) -> str | None:
    contexts = item.get("contexts")
    trace = contexts.get("trace") if isinstance(contexts, dict) else None
    value = trace.get("trace_id") if isinstance(trace, dict) else None
    if isinstance(value, str) and TRACE_ID.fullmatch(value.replace("-", "").lower()):
        return value.replace("-", "").lower()
    return None


def read_check_in(item: dict[str, Any], received_at: datetime) -> CheckInItem:
    """The check-in, or `InvalidCheckIn` naming the first thing wrong with it."""
    status = item.get("status")
    if not isinstance(status, str) or status not in STATUSES:
        raise InvalidCheckIn("invalid status")
    config = item.get("monitor_config")
    return CheckInItem(
        check_in_id=check_in_id_of(item.get("check_in_id")),
        slug=slug_of(item.get("monitor_slug")),
        status=str(status),
        duration=_duration(item.get("duration")),
        release=_text(item.get("release"), 250),
        environment=_text(item.get("environment"), 64),
        trace_id=_trace_id(item),
        received_at=received_at,
        config=None if config is None else config_of(config, received_at),
    )
