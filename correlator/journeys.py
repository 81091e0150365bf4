"""What one order's events say about its journey: hops, status, the failing and the missing hop.

Pure: events in, summary out. The worker feeds it the events a journey holds; a rebuild feeds
it the same events, so both reach the same answer.
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from rules.config import Hop
from store.levels import is_error
from store.statuses import COMPLETED, FAILED, IN_PROGRESS, STALLED


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """The columns of an event that a journey is made of."""

    id: int
    timestamp: datetime
    duration_ms: float | None
    type: str
    level: str
    service: str | None
    release: str | None
    environment: str | None
    trace_id: str | None
    span_id: str | None = None
    # When the work began: a transaction's timestamp is its end, so step back its duration
    # (worked out once: a journey's summary reads it several times per event).
    started_at: datetime = field(init=False)

    def __post_init__(self) -> None:
        began = self.timestamp
        if self.type == "transaction" and self.duration_ms:
            began -= timedelta(milliseconds=self.duration_ms)
        object.__setattr__(self, "started_at", began)

    @property
    def is_error(self) -> bool:
        return is_error(self.type, self.level)


# The status of a hop whose service has never sent an event: not expected, never missing.
UNSEEN = "unseen"


@dataclass(slots=True)
class HopState:
    service: str
    name: str
    status: str = "pending"  # ok | failed | missing | skipped | not_reached | pending | unseen
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    reached: bool = False

    def see(self, at: datetime) -> None:
        self.reached = True
        self.first_seen = min(self.first_seen or at, at)
        self.last_seen = max(self.last_seen or at, at)

    def as_dict(self) -> dict[str, str | None]:
        return {
            "service": self.service,
            "name": self.name,
            "status": self.status,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
        }


@dataclass(slots=True)
class JourneySummary:
    status: str
    failed_service: str | None
    first_seen: datetime
    last_seen: datetime
    event_count: int
    error_count: int
    services: list[str]
    impacted_services: list[str]
    missing_hops: list[str]
    releases: list[str]
    environments: list[str]
    trace_ids: list[str]
    hops: list[HopState] = field(default_factory=list)


def _distinct(values: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


class Expectation(Protocol):
    """What a journey is judged by: a flow's declared rule, or its learned path."""

    @property
    def hops(self) -> Sequence[Hop]: ...

    @property
    def stall_after(self) -> float: ...


def summarize(
    events: Sequence[TimelineEvent],
    rule: Expectation,
    now: datetime,
    known_services: Collection[str] | None = None,
) -> JourneySummary:
    """The journey these events make under `rule`, as it stands at `now`.

    `known_services` (every service that ever sent an event; None: all) decides which hops are
    expected (`_expected_services`): a hop of a service the system does not have can never be
    the missing one (its row in the hop table says `unseen`).
    Events are walked in the order their work began. An event from the service of the next
    expected hop reaches it; one from the service of a hop already reached belongs to the latest
    such hop; one from the service of a later hop reaches that hop (the hops between are
    skipped); any other service is outside the expected path but still part of the journey.
    A journey that reaches no expected hop is of unknown shape: it has no hop table, and it is
    never stalled (quiet past `stall_after` without an error, nothing expected is missing).
    """
    ordered = sorted(events, key=lambda e: (e.started_at, e.id))
    expected = _expected_services(rule.hops, known_services)
    table = [
        HopState(
            service=hop.service,
            name=hop.name,
            status="pending" if expected is None or hop.service in expected else UNSEEN,
        )
        for hop in rule.hops
    ]
    hops = [hop for hop in table if hop.status != UNSEEN]
    hop_of = _walk(ordered, hops)
    first_error = root_cause(ordered)
    errors = [e for e in ordered if e.is_error]
    last_seen = max(e.timestamp for e in ordered)
    quiet = now - last_seen > timedelta(seconds=rule.stall_after)
    if not any(hop.reached for hop in hops):
        hops = table = []  # unknown shape: the expected path does not describe these events
    status, failed_service, missing = _judge(hops, hop_of, first_error, quiet)
    impacted = _distinct([failed_service, *(e.service for e in errors)])
    return JourneySummary(
        status=status,
        failed_service=failed_service,
        first_seen=min(e.timestamp for e in ordered),
        last_seen=last_seen,
        event_count=len(ordered),
        error_count=len(errors),
        services=_distinct(e.service for e in ordered),
        impacted_services=impacted,
        missing_hops=missing,
        releases=sorted(_distinct(e.release for e in ordered)),
        environments=sorted(_distinct(e.environment for e in ordered)),
        trace_ids=_distinct(e.trace_id for e in ordered),
        hops=table,
    )


def _expected_services(
    hops: Sequence[Hop], known_services: Collection[str] | None
) -> Collection[str] | None:
    """The services whose hops are expected (None: all of them).

    When at least half of the flow's services have sent events, the flow is evidently this
    system's, and a declared service that has sent nothing yet is expected all the same: it may
    have been down since the first event (a shipping outage on a fresh database must stall
    orders at shipping, not complete them). Otherwise only the services seen are: the rules
    describe another system, and a hop of a service it does not have is never the missing one.
    """
    if known_services is None:
        return None
    declared = {hop.service for hop in hops}
    seen = declared.intersection(known_services)
    return declared if 2 * len(seen) >= len(declared) else seen


def _walk(ordered: Sequence[TimelineEvent], hops: list[HopState]) -> dict[int, HopState]:
    """Places each event on its hop (see `summarize`); returns the hop of each placed event."""
    position = 0  # index of the next expected hop
    hop_of: dict[int, HopState] = {}
    for event in ordered:
        hop = _hop_for(hops, position, event.service)
        if hop is not None:
            hop_of[event.id] = hop
            hop.see(event.started_at)
            position = max(position, hops.index(hop) + 1)
    return hop_of


def _judge(
    hops: list[HopState],
    hop_of: dict[int, HopState],
    first_error: TimelineEvent | None,
    quiet: bool,
) -> tuple[str, str | None, list[str]]:
    """Status, failing service and missing hops; marks each hop's own status on the way."""
    reached = [i for i, hop in enumerate(hops) if hop.reached]
    furthest = reached[-1] if reached else -1
    for i, hop in enumerate(hops):
        if hop.reached:
            hop.status = "ok"
        elif i < furthest:
            hop.status = "skipped"
    if first_error is not None:
        failed_hop = hop_of.get(first_error.id)
        if failed_hop is not None:
            failed_hop.status = "failed"
        _mark_after(hops, furthest, "not_reached")
        return FAILED, first_error.service, []
    if not hops:
        return (COMPLETED if quiet else IN_PROGRESS), None, []
    if furthest == len(hops) - 1:
        return COMPLETED, None, []
    if quiet:
        never = hops[furthest + 1]
        never.status = "missing"
        _mark_after(hops, furthest + 1, "not_reached")
        return STALLED, never.service, [never.service]
    return IN_PROGRESS, None, []


def root_cause(events: Sequence[TimelineEvent]) -> TimelineEvent | None:
    """The error that started the failure.

    An error's unit of work is the transaction it happened in (same trace and span), else the
    instant it happened. An error is a consequence of another when that other's unit of work
    began while its own was under way and before it failed: the caller waiting on a callee that
    broke (an order failing because the catalog did). Of the errors that are no consequence,
    the one whose work began first is the cause. Clocks of different services agree only
    roughly, and a server may report its error after answering, so the event timestamps alone
    cannot say which came first.
    """
    units: dict[tuple[str | None, str | None], datetime] = {
        (e.trace_id, e.span_id): e.started_at
        for e in events
        if e.type == "transaction" and e.span_id
    }
    errors = [e for e in events if e.is_error]
    start = {e.id: units.get((e.trace_id, e.span_id), e.timestamp) for e in errors}
    # Per trace, the sorted starts: whether another error's work began in (start, failure]
    # is one binary search, so that a journey of thousands of errors stays cheap.
    starts: dict[str | None, list[datetime]] = defaultdict(list)
    for e in errors:
        starts[e.trace_id].append(start[e.id])
    for values in starts.values():
        values.sort()

    def consequence(error: TimelineEvent) -> bool:
        same_trace = starts[error.trace_id]
        later = bisect_right(same_trace, start[error.id])
        return later < len(same_trace) and same_trace[later] <= error.timestamp

    causes = [e for e in errors if not consequence(e)] or errors
    return min(causes, key=lambda e: (start[e.id], e.id), default=None)


def _hop_for(hops: list[HopState], position: int, service: str | None) -> HopState | None:
    if service is None:
        return None
    if position < len(hops) and hops[position].service == service:
        return hops[position]
    for hop in reversed(hops[:position]):
        if hop.service == service:
            return hop
    for hop in hops[position + 1 :]:
        if hop.service == service:
            return hop
    return None


def _mark_after(hops: list[HopState], index: int, status: str) -> None:
    for hop in hops[index + 1 :]:
        if not hop.reached:
            hop.status = status
