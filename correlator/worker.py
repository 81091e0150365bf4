"""The incremental correlator: reads new events from a watermark and keeps journeys up to date.

Each pass is one transaction that starts by moving the watermark with a compare-and-set, so
several workers on one database never process the same events twice: a worker whose watermark
went stale changes nothing and tries again. Everything a pass writes can be rebuilt from the
events, and a pass may be repeated without changing the result.
"""

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, literal, select, tuple_, update

from correlator.flows import Judged, expectation, known_services, learned_paths, relearn
from correlator.journeys import Expectation, JourneySummary, TimelineEvent, summarize
from correlator.settings import CorrelatorSettings
from reads.span_parents import KEY, SPAN, Parentage
from rules.config import DEFAULT_SCOPE, CorrelationRules, current_rules
from store.clock import utcnow
from store.engine import Database
from store.models import (
    JOURNEYS_STATE,
    CorrelationKey,
    CorrelatorState,
    Event,
    Journey,
    JourneyEvent,
    JourneyLabel,
    JourneyLink,
    Project,
)
from store.sql import chunked
from store.statuses import IN_PROGRESS
from store.upsert import insert_for, insert_ignore

log = logging.getLogger(__name__)

STATE = JOURNEYS_STATE
TRACE = "trace"


@dataclass(slots=True)
class PassResult:
    events: int = 0
    journeys: int = 0
    stale: bool = False


@dataclass(slots=True)
class _Batch:
    ids: list[int]
    scope: dict[int, str] = field(default_factory=dict)  # each event's correlation scope
    # Per event, the journeys its keys make: (flow name, key value).
    # (scope, flow, key value) of each event carrying a flow's key
    primary: dict[int, set[tuple[str, str, str]]] = field(default_factory=lambda: defaultdict(set))
    links: dict[int, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))
    # Each event's trace, span and parent span: where span parentage is looked up.
    spans: dict[int, tuple[str, str | None, str | None]] = field(default_factory=dict)

    def merge(self, other: "_Batch") -> None:
        """Adds what `other` read (the events of both are then known)."""
        self.scope.update(other.scope)
        self.primary.update(other.primary)
        self.links.update(other.links)
        self.spans.update(other.spans)


class Correlator:
    def __init__(
        self,
        database: Database,
        rules: CorrelationRules | None = None,
        settings: CorrelatorSettings | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self.rules = rules or current_rules()
        self.settings = settings or CorrelatorSettings()
        self.clock = clock
        # Each flow's key makes that flow's journeys; every other key is a link.
        self.flow_of_key = self.rules.flow_of_key
        self.link_names = [k.name for k in self.rules.keys if k.name not in self.flow_of_key]
        self._learned_at: datetime | None = None

    # -- passes --------------------------------------------------------------------------

    def run_once(self, limit: int | None = None) -> PassResult:
        """One pass: up to `limit` (`batch_size`) new events, then the stall sweep."""
        now = self.clock()
        with self.database.engine.connect() as connection:
            state = self._state(connection)
            watermark, gaps = state.watermark, {int(k): v for k, v in state.gaps.items()}
            fresh = list(
                connection.scalars(
                    select(Event.id)
                    .where(Event.id > watermark)
                    .order_by(Event.id)
                    .limit(limit or self.settings.batch_size)
                )
            )
            found = self._existing(connection, gaps) if gaps else []
            stalling = self._stall_candidates(connection, now)
            connection.rollback()
        new_watermark = fresh[-1] if fresh else watermark
        new_gaps = self._next_gaps(gaps, found, watermark, fresh, now)
        if not fresh and not found and not stalling and new_gaps == gaps:
            return PassResult()  # nothing to do: no write, no lock taken
        with self.database.writing() as connection:
            moved = connection.execute(
                update(CorrelatorState)
                .where(
                    CorrelatorState.name == STATE,
                    CorrelatorState.passes == state.passes,
                )
                .values(
                    passes=state.passes + 1,
                    watermark=new_watermark,
                    gaps={str(k): v for k, v in new_gaps.items()},
                    updated_at=now,
                )
            )
            if moved.rowcount != 1:
                connection.rollback()
                return PassResult(stale=True)
            ids = [*found, *fresh]
            touched = self._process(connection, ids) if ids else set()
            touched |= stalling
            self._recompute(connection, touched, now)
            if self._learning_due(now):
                relearn(connection, self.rules.flows, now)
            connection.commit()
        return PassResult(events=len(ids), journeys=len(touched))

    def learn(self) -> None:
        """Learns the path of every flow without declared hops from its completed journeys
        now (passes do it at most every `learn_interval` seconds)."""
        now = self.clock()
        self._learned_at = now
        with self.database.writing() as connection:
            relearn(connection, self.rules.flows, now)
            connection.commit()

    def _learning_due(self, now: datetime) -> bool:
        if not any(flow.learns for flow in self.rules.flows):
            return False
        interval = timedelta(seconds=self.settings.learn_interval)
        if self._learned_at is not None and now - self._learned_at < interval:
            return False
        self._learned_at = now
        return True

    def run_until_idle(self) -> PassResult:
        """Passes until no new event is left (used by `sentrail correlate` and tests)."""
        total = PassResult()
        while True:
            result = self.run_once()
            total.events += result.events
            total.journeys += result.journeys
            if not result.stale and result.events < self.settings.batch_size:
                return total

    def rebuild(self) -> PassResult:
        """Forget every journey and correlate all stored events again from the start."""
        self.reset()
        return self.run_until_idle()

    def reset(self) -> None:
        """Forget every journey and move the watermark back to the first event."""
        with self.database.writing() as connection:
            for table in (JourneyEvent, JourneyLink, JourneyLabel, Journey):
                connection.execute(delete(table))
            self._state(connection)
            connection.execute(
                update(CorrelatorState)
                .where(CorrelatorState.name == STATE)
                .values(
                    watermark=0, gaps={}, passes=CorrelatorState.passes + 1, updated_at=self.clock()
                )
            )
            connection.commit()

    # -- the loop ------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        """Passes until `stop` is set; waits `poll_interval` when there is nothing new. Errors
        (the database away, a lock timeout) are logged and retried with backoff."""
        backoff = self.settings.poll_interval
        limit = (
            self.settings.sqlite_live_batch_size
            if self.database.is_sqlite
            else self.settings.batch_size
        )
        while not stop.is_set():
            try:
                result = self.run_once(limit)
            except Exception:
                log.exception("correlator pass failed; retrying in %.1f s", backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = self.settings.poll_interval
            if result.events < limit and not result.stale:
                stop.wait(self.settings.poll_interval)

    # -- internals -----------------------------------------------------------------------

    def _state(self, connection: Connection) -> CorrelatorState:
        row = connection.execute(
            select(
                CorrelatorState.watermark,
                CorrelatorState.gaps,
                CorrelatorState.passes,
                CorrelatorState.updated_at,
            ).where(CorrelatorState.name == STATE)
        ).first()
        if row is None:
            insert_ignore(
                connection,
                CorrelatorState.__table__,  # type: ignore[arg-type]
                [
                    {
                        "name": STATE,
                        "watermark": 0,
                        "gaps": {},
                        "passes": 0,
                        "updated_at": self.clock(),
                    }
                ],
                ["name"],
            )
            connection.commit()
            return self._state(connection)
        return CorrelatorState(
            name=STATE,
            watermark=row.watermark,
            gaps=row.gaps,
            passes=row.passes,
            updated_at=row.updated_at,
        )

    def _existing(self, connection: Connection, gaps: dict[int, float]) -> list[int]:
        found: list[int] = []
        for gap_ids in chunked(sorted(gaps), 500):
            found += connection.scalars(select(Event.id).where(Event.id.in_(gap_ids)))
        return sorted(found)

    def _next_gaps(
        self,
        gaps: dict[int, float],
        found: list[int],
        watermark: int,
        fresh: list[int],
        now: datetime,
    ) -> dict[int, float]:
        """Ids skipped over (not visible yet) are remembered until `gap_wait` has passed."""
        remaining = {i: d for i, d in gaps.items() if d > now.timestamp()}
        for i in found:
            remaining.pop(i, None)
        deadline = now.timestamp() + self.settings.gap_wait
        expected = watermark + 1
        for i in fresh:
            for missing in range(expected, min(i, expected + 10_000)):
                remaining[missing] = deadline
            expected = i + 1
        return remaining

    def _read_batch(self, connection: Connection, ids: list[int]) -> _Batch:
        batch = _Batch(ids=ids)
        scopes = self._project_scopes(connection)
        # Without [[scopes]] every event is of the default scope: the project is not read.
        project = Event.project_id if scopes else literal(0)
        for id_chunk in chunked(ids, 900):
            for row_id, project_id, trace_id, span_id, parent_span_id in connection.execute(
                select(
                    Event.id, project, Event.trace_id, Event.span_id, Event.parent_span_id
                ).where(Event.id.in_(id_chunk))
            ).all():
                batch.scope[row_id] = scopes.get(project_id, DEFAULT_SCOPE)
                if trace_id:
                    batch.links[row_id].add((TRACE, trace_id))
                    batch.spans[row_id] = (trace_id, span_id, parent_span_id)
            for row_id, name, value in connection.execute(
                select(
                    CorrelationKey.event_row_id, CorrelationKey.name, CorrelationKey.value
                ).where(CorrelationKey.event_row_id.in_(id_chunk))
            ).all():
                if name in self.flow_of_key:
                    batch.primary[row_id].add((batch.scope[row_id], self.flow_of_key[name], value))
                elif name in self.link_names:
                    batch.links[row_id].add((name, value))
        return batch

    def _project_scopes(self, connection: Connection) -> dict[int, str]:
        """Project id -> correlation scope (a small table; nothing to read with no scopes)."""
        if not self.rules.scopes:
            return {}
        return {
            project_id: self.rules.scope_of(name)
            for project_id, name in connection.execute(select(Project.id, Project.name))
        }

    def _process(self, connection: Connection, ids: list[int]) -> set[int]:
        """Adds these events to their journeys; returns the journeys that changed."""
        batch = self._read_batch(connection, ids)
        keyed = {i for i in ids if batch.primary.get(i)}
        journey_ids = self._journeys_for(connection, {j for i in keyed for j in batch.primary[i]})
        touched: set[int] = set()
        members, links = [], []
        for row_id in keyed:
            for identity in batch.primary[row_id]:
                journey_id = journey_ids[identity]
                touched.add(journey_id)
                members.append({"journey_id": journey_id, "event_row_id": row_id, "via": KEY})
                links += [
                    {"kind": kind, "value": link, "journey_id": journey_id}
                    for kind, link in batch.links.get(row_id, ())
                ]
        insert_ignore(connection, JourneyEvent.__table__, members, ["journey_id", "event_row_id"])  # type: ignore[arg-type]
        new_links = self._add_links(connection, links)
        # Keyless events to place: those of this batch, and earlier ones that carry a link
        # this batch made known (they may have arrived before the event with the key).
        keyless = {i for i in ids if i not in keyed}
        keyless |= self._keyless_with(connection, new_links)
        touched |= self._attach(connection, keyless, batch)
        return touched

    def _journeys_for(
        self, connection: Connection, values: set[tuple[str, str, str]]
    ) -> dict[tuple[str, str, str], int]:
        """The journey of each (scope, flow, key value), created when new."""
        if not values:
            return {}
        now = self.clock()
        rows = [
            {
                "scope": scope,
                "flow": flow,
                "key": value,
                "status": IN_PROGRESS,
                "first_seen_at": now,
                "last_seen_at": now,
                "event_count": 0,
                "error_count": 0,
                "services": [],
                "impacted_services": [],
                "missing_hops": [],
                "releases": [],
                "environments": [],
                "trace_ids": [],
                "hops": [],
                "updated_at": now,
            }
            for scope, flow, value in sorted(values)
        ]
        insert_ignore(connection, Journey.__table__, rows, ["scope", "flow", "key"])  # type: ignore[arg-type]
        found: dict[tuple[str, str, str], int] = {}
        # By the key alone (its index), keeping the (scope, flow) asked for: a row-value IN
        # over three columns is not always served by an index.
        for key_chunk in chunked(sorted({key for _, _, key in values}), 900):
            for scope, flow, key, journey_id in connection.execute(
                select(Journey.scope, Journey.flow, Journey.key, Journey.id).where(
                    Journey.key.in_(key_chunk)
                )
            ).all():
                if (scope, flow, key) in values:
                    found[(scope, flow, key)] = journey_id
        return found

    def _add_links(
        self, connection: Connection, links: list[dict[str, Any]]
    ) -> set[tuple[str, str]]:
        """Stores links; returns the (kind, value) pairs that gained a journey."""
        if not links:
            return set()
        unique = {(r["kind"], r["value"], r["journey_id"]) for r in links}
        known: set[tuple[str, str, int]] = set()
        pairs = sorted({(k, v) for k, v, _ in unique})
        for pair_chunk in chunked(pairs, 400):
            for kind, value, journey_id in connection.execute(
                select(JourneyLink.kind, JourneyLink.value, JourneyLink.journey_id).where(
                    tuple_(JourneyLink.kind, JourneyLink.value).in_(pair_chunk)
                )
            ).all():
                known.add((kind, value, journey_id))
        new = sorted(unique - known)
        insert_ignore(
            connection,
            JourneyLink.__table__,  # type: ignore[arg-type]
            [{"kind": k, "value": v, "journey_id": j} for k, v, j in new],
            ["kind", "value", "journey_id"],
        )
        return {(k, v) for k, v, _ in new}

    def _keyless_with(self, connection: Connection, links: set[tuple[str, str]]) -> set[int]:
        """Events carrying one of these links and no key of their own."""
        found: set[int] = set()
        traces = sorted(v for k, v in links if k == TRACE)
        for trace_chunk in chunked(traces, 900):
            found.update(
                connection.scalars(select(Event.id).where(Event.trace_id.in_(trace_chunk)))
            )
        others = sorted((k, v) for k, v in links if k != TRACE)
        for key_chunk in chunked(others, 400):
            found.update(
                connection.scalars(
                    select(CorrelationKey.event_row_id).where(
                        tuple_(CorrelationKey.name, CorrelationKey.value).in_(key_chunk)
                    )
                )
            )
        keyed: set[int] = set()
        for found_chunk in chunked(sorted(found), 900):
            keyed.update(
                connection.scalars(
                    select(CorrelationKey.event_row_id).where(
                        CorrelationKey.event_row_id.in_(found_chunk),
                        CorrelationKey.name.in_(sorted(self.flow_of_key)),
                    )
                )
            )
        return found - keyed

    def _attach(
        self, connection: Connection, event_ids: Collection[int], read: _Batch | None = None
    ) -> set[int]:
        """Places each keyless event in the one journey its links lead to, or in none when they
        lead nowhere or to several (an ambiguous link places nothing). Returns the journeys whose
        events changed. `read`: a batch already read that holds some of them."""
        if not event_ids:
            return set()
        ids = sorted(event_ids)
        unread = [i for i in ids if read is None or i not in read.scope]
        batch = self._read_batch(connection, unread)
        if read is not None:
            batch.merge(read)
        pairs = sorted({link for i in ids for link in batch.links.get(i, ())})
        journeys_of: dict[tuple[str, str], set[int]] = defaultdict(set)
        for pair_chunk in chunked(pairs, 400):
            for kind, value, journey_id in connection.execute(
                select(JourneyLink.kind, JourneyLink.value, JourneyLink.journey_id).where(
                    tuple_(JourneyLink.kind, JourneyLink.value).in_(pair_chunk)
                )
            ).all():
                journeys_of[(kind, value)].add(journey_id)
        current: dict[int, set[int]] = defaultdict(set)
        for id_chunk in chunked(ids, 900):
            for row_id, journey_id in connection.execute(
                select(JourneyEvent.event_row_id, JourneyEvent.journey_id).where(
                    JourneyEvent.event_row_id.in_(id_chunk), JourneyEvent.via != KEY
                )
            ).all():
                current[row_id].add(journey_id)
        scope_of = self._journey_scopes(connection, journeys_of)
        parentage = Parentage(connection)
        touched: set[int] = set()
        add: list[dict[str, Any]] = []
        for row_id in ids:
            links = batch.links.get(row_id, set())
            candidates = {
                journey_id
                for link in links
                for journey_id in journeys_of.get(link, ())
                if scope_of.get(journey_id) == batch.scope[row_id]  # never across scopes
            }
            target, via = self._target(batch, row_id, candidates, parentage)
            stale = current.get(row_id, set()) - {target}
            if stale:
                connection.execute(
                    delete(JourneyEvent).where(
                        JourneyEvent.event_row_id == row_id,
                        JourneyEvent.journey_id.in_(sorted(stale)),
                    )
                )
                touched |= stale
            if target is not None and target not in current.get(row_id, set()):
                via = via or next(
                    k for k, v in sorted(links) if target in journeys_of.get((k, v), ())
                )
                add.append({"journey_id": target, "event_row_id": row_id, "via": via})
                touched.add(target)
        insert_ignore(connection, JourneyEvent.__table__, add, ["journey_id", "event_row_id"])  # type: ignore[arg-type]
        return touched

    @staticmethod
    def _target(
        batch: _Batch, row_id: int, candidates: set[int], parentage: Parentage
    ) -> tuple[int | None, str | None]:
        """The one journey a keyless event's links lead to, and the link kind to record when
        it is not simply the link's own (None). When they lead to several (orders sent one
        after another on one trace), span parentage decides: the journey of the nearest span
        above the event's that a keyed member owns (reads/span_parents.py), else none."""
        if len(candidates) == 1:
            return next(iter(candidates)), None
        if not candidates or row_id not in batch.spans:
            return None, None
        owners = parentage.owners(*batch.spans[row_id])
        through = {owner.journey_id for owner in owners} & candidates
        return (through.pop(), SPAN) if len(through) == 1 else (None, None)

    def _journey_scopes(
        self, connection: Connection, journeys_of: dict[tuple[str, str], set[int]]
    ) -> dict[int, str]:
        ids = sorted(set().union(*journeys_of.values())) if journeys_of else []
        found: dict[int, str] = {}
        for id_chunk in chunked(ids, 900):
            for journey_id, scope in connection.execute(
                select(Journey.id, Journey.scope).where(Journey.id.in_(id_chunk))
            ).all():
                found[journey_id] = scope
        return found

    def _stall_candidates(self, connection: Connection, now: datetime) -> set[int]:
        """In-progress journeys quiet past their own flow's `stall_after`."""
        found: set[int] = set()
        for flow in self.rules.flows:
            cutoff = now - timedelta(seconds=flow.stall_after)
            found.update(
                connection.scalars(
                    select(Journey.id)
                    .where(
                        Journey.flow == flow.name,
                        Journey.status == IN_PROGRESS,
                        Journey.last_seen_at < cutoff,
                    )
                    .order_by(Journey.last_seen_at)
                    .limit(self.settings.stall_sweep)
                )
            )
        return found

    def _judges(self, connection: Connection) -> dict[str, Expectation]:
        """What each flow's journeys are judged by in this pass (declared or learned hops)."""
        learning = any(flow.learns for flow in self.rules.flows)
        paths = learned_paths(connection) if learning else {}  # declared hops need no read
        return {flow.name: expectation(flow, paths) for flow in self.rules.flows}

    def _recompute(self, connection: Connection, journey_ids: Iterable[int], now: datetime) -> None:
        ids = sorted(journey_ids)
        if not ids:
            return
        judges = self._judges(connection)
        services = known_services(connection)
        for id_chunk in chunked(ids, 500):
            events = _timelines(connection, id_chunk)
            flows: dict[int, str] = {
                row.id: row.flow
                for row in connection.execute(
                    select(Journey.id, Journey.flow).where(Journey.id.in_(id_chunk))
                )
            }
            labels: list[dict[str, Any]] = []
            summaries: list[dict[str, Any]] = []
            for journey_id in id_chunk:
                # A flow no longer in the rules: its journeys are of unknown shape.
                judge = judges.get(flows.get(journey_id, ""), Judged())
                if not events.get(journey_id):
                    continue
                summary = summarize(events[journey_id], judge, now, services)
                summaries.append(_journey_row(journey_id, summary, now))
                labels += _labels(journey_id, summary)
            if summaries:
                connection.execute(UPDATE_JOURNEY, summaries)
            connection.execute(delete(JourneyLabel).where(JourneyLabel.journey_id.in_(id_chunk)))
            if labels:
                connection.execute(insert_for(connection, JourneyLabel.__table__), labels)  # type: ignore[arg-type]


def _timelines(
    connection: Connection, journey_ids: Sequence[int]
) -> dict[int, list[TimelineEvent]]:
    """The events of each journey, as the pure journey logic reads them."""
    events: dict[int, list[TimelineEvent]] = defaultdict(list)
    for row in connection.execute(
        select(
            JourneyEvent.journey_id,
            Event.id,
            Event.timestamp,
            Event.duration_ms,
            Event.type,
            Event.level,
            Event.service,
            Event.release,
            Event.environment,
            Event.trace_id,
            Event.span_id,
        )
        .join(Event, Event.id == JourneyEvent.event_row_id)
        .where(JourneyEvent.journey_id.in_(journey_ids))
    ).all():
        events[row.journey_id].append(
            TimelineEvent(
                id=row.id,
                timestamp=row.timestamp,
                duration_ms=row.duration_ms,
                type=row.type,
                level=row.level,
                service=row.service,
                release=row.release,
                environment=row.environment,
                trace_id=row.trace_id,
                span_id=row.span_id,
            )
        )
    return events


def _journey_row(journey_id: int, summary: JourneySummary, now: datetime) -> dict[str, Any]:
    return {
        "b_id": journey_id,
        "status": summary.status,
        "failed_service": summary.failed_service,
        "first_seen_at": summary.first_seen,
        "last_seen_at": summary.last_seen,
        "event_count": summary.event_count,
        "error_count": summary.error_count,
        "services": summary.services,
        "impacted_services": summary.impacted_services,
        "missing_hops": summary.missing_hops,
        "releases": summary.releases,
        "environments": summary.environments,
        "trace_ids": summary.trace_ids,
        "hops": [hop.as_dict() for hop in summary.hops],
        "updated_at": now,
    }


def _labels(journey_id: int, summary: JourneySummary) -> list[dict[str, Any]]:
    """The label rows that let the orders list filter by service, release and environment
    (and count by status) without reading journeys."""
    return [
        {
            "kind": kind,
            "value": value,
            "journey_id": journey_id,
            "status": summary.status,
            "last_seen_at": summary.last_seen,
        }
        for kind, values in (
            ("service", summary.services),
            ("impacted", summary.impacted_services),
            ("release", summary.releases),
            ("environment", summary.environments),
        )
        for value in values
    ]


# One statement for every journey a pass recomputes, run once with all their summaries.
UPDATE_JOURNEY = (
    update(Journey)
    .where(Journey.id == bindparam("b_id"))
    .values(
        {
            name: bindparam(name)
            for name in (
                "status",
                "failed_service",
                "first_seen_at",
                "last_seen_at",
                "event_count",
                "error_count",
                "services",
                "impacted_services",
                "missing_hops",
                "releases",
                "environments",
                "trace_ids",
                "hops",
                "updated_at",
            )
        }
    )
)


class CorrelatorThread:
    """The worker inside `sentrail serve`: a daemon thread stopped with the app."""

    def __init__(self, correlator: Correlator) -> None:
        self.correlator = correlator
        self.stop_event = threading.Event()
        self.thread = threading.Thread(
            target=correlator.run_forever, args=(self.stop_event,), name="correlator", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)
