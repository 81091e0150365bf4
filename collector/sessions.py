"""Release-health items → counters per release, environment, minute
(docs/protocol.md#sessions-release-health).

Counted as Relay counts them. A `session` item is one update of one session: `init` counts it
in `total` once; it is **errored** once, as soon as any update has `errors > 0` or an error
status (errored, crashed, abnormal, unhandled) — so a browser session that saw an uncaught
error (`unhandled`) or one closed as `ok` with `errors: 1` is never healthy; its first end
(exited, errored, crashed, abnormal, unhandled) counts once. The writer remembers each `sid`,
so a repeated update counts nothing twice. A `sessions` item carries pre-aggregated, exclusive
counts (what sentry-python sends from web apps). Either way the start minute is the bucket.

Stored, `errored` counts every session that saw an error, crashed ones included; the read
side shows the errored-only share as `errored - crashed - abnormal - unhandled`, as Sentry's
release health does.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collector.limits import MAX_SESSION_BUCKETS
from collector.timestamps import parse_timestamp

ENDS = ("exited", "errored", "abnormal", "crashed", "unhandled")
# Counted once each when a session ends so (`errored` is counted by its own rule).
ENDS_COUNTED = ("exited", "abnormal", "crashed", "unhandled")
ERROR_STATUSES = frozenset({"errored", "abnormal", "crashed", "unhandled"})
AGGREGATE_COUNTS = ("exited", "errored", "abnormal", "crashed")


@dataclass(frozen=True)
class SessionCounts:
    release: str
    environment: str
    started_at: datetime
    total: int = 0
    exited: int = 0
    errored: int = 0
    abnormal: int = 0
    crashed: int = 0
    unhandled: int = 0


@dataclass(frozen=True)
class SessionUpdate:
    """One `session` item: counted by the writer against what it knows of that `sid`."""

    sid: str | None
    init: bool
    errored: bool  # `errors > 0` or an error status
    end: str | None  # one of ENDS once the session has ended
    counts_bucket: SessionCounts  # release, environment and minute, all counters at zero
    distinct_id: str | None

    def counts(self, *, started: bool, errored: bool, end: str | None) -> SessionCounts:
        """What to add: whether the session is counted as started now, as errored now, and
        the end to count now (each at most once per session; the writer knows which)."""
        bucket = self.counts_bucket
        ended = {name: int(end == name) for name in ENDS_COUNTED}
        return SessionCounts(
            bucket.release,
            bucket.environment,
            bucket.started_at,
            total=int(started),
            errored=int(errored),
            **ended,
        )


@dataclass(frozen=True)
class UserSeen:
    release: str
    environment: str
    distinct_id: str
    crashed: bool
    seen_at: datetime


def _attrs(item: Mapping[str, Any]) -> tuple[str, str] | None:
    attrs = item.get("attrs")
    if not isinstance(attrs, dict):
        return None
    release = attrs.get("release")
    if not isinstance(release, str) or not release.strip():
        return None  # release is required; Relay drops such items
    environment = attrs.get("environment")
    environment = environment if isinstance(environment, str) and environment else "production"
    return release[:250], environment[:64]


def _minute(value: object) -> datetime | None:
    parsed = parse_timestamp(value)
    return parsed.replace(second=0, microsecond=0) if parsed else None


def _count(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31:
        return value
    return 0


def _distinct_id(value: object) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
        return str(value)[:200]
    return None


def from_session(item: Mapping[str, Any]) -> SessionUpdate | None:
    """One session update; None when it is invalid (dropped, counted as an outcome)."""
    attrs = _attrs(item)
    started = _minute(item.get("started"))
    status = item.get("status", "ok")
    if attrs is None or started is None or not isinstance(status, str):
        return None
    release, environment = attrs
    sid = _distinct_id(item.get("sid"))
    return SessionUpdate(
        sid=sid[:64] if sid else None,
        init=item.get("init") is True,
        errored=_count(item.get("errors")) > 0 or status in ERROR_STATUSES,
        end=status if status in ENDS else None,
        counts_bucket=SessionCounts(release, environment, started),
        distinct_id=_distinct_id(item.get("did")),
    )


def from_aggregates(item: Mapping[str, Any]) -> list[tuple[SessionCounts, UserSeen | None]]:
    attrs = _attrs(item)
    aggregates = item.get("aggregates")
    if attrs is None or not isinstance(aggregates, list):
        return []
    release, environment = attrs
    result: list[tuple[SessionCounts, UserSeen | None]] = []
    for bucket in aggregates[:MAX_SESSION_BUCKETS]:
        if not isinstance(bucket, dict):
            continue
        started = _minute(bucket.get("started"))
        if started is None:
            continue
        # Exclusive counts: each session is in one of them. Stored as the individual sessions
        # are: `errored` holds every session that saw an error, crashed and abnormal included.
        ended = {name: _count(bucket.get(name)) for name in AGGREGATE_COUNTS}
        counts = SessionCounts(
            release,
            environment,
            started,
            total=sum(ended.values()),
            exited=ended["exited"],
            errored=ended["errored"] + ended["abnormal"] + ended["crashed"],
            abnormal=ended["abnormal"],
            crashed=ended["crashed"],
        )
        did = _distinct_id(bucket.get("did"))
        user = None
        if did:
            user = UserSeen(release, environment, did, ended["crashed"] > 0, started)
        result.append((counts, user))
    return result
