"""How each event of an order's journey joined it (docs/decisions.md#12), derived at read time.

The correlator records only `journey_event.via`: "key" for an event that carries the journey's
key, else the kind of link that placed it ("trace", or a secondary key such as
"transaction_id"). The rest of the explanation is already stored: the key row's carrier and
overruled values (rules/extract.py `Key`), the event's trace and secondary keys, and the keyed
members of the journey that carry the same link. Reading it here costs the write path nothing;
a page of events costs a fixed number of queries (five per 500 events), never one per event.
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from reads.schemas import JoinedBy, JoinedByKey, JoinedByLink
from reads.span_parents import KEY, SPAN, Parentage
from rules.config import current_rules
from store.models import CorrelationKey, Event, Journey, JourneyEvent
from store.sql import IN_LIST_SIZE, chunked

TRACE = "trace"  # journey_event.via of an event placed by its trace
CHUNK = IN_LIST_SIZE  # ids per IN list
PAIR_CHUNK = 400  # (name, value) pairs per IN list (two bound values each)


def memberships(
    session: Session, journey: Journey, events: Sequence[Event], key_name: str | None = None
) -> dict[int, JoinedBy]:
    """By event row id: how each of `events` (members of `journey`) joined it.

    `key_name` is the key of the journey's flow (from the rules in force when not given). An
    event the correlator moved out between the reads has no entry.
    """
    name = key_name or _key_of(journey.flow)
    via = _vias(session, journey.id, [e.id for e in events])
    found: dict[int, JoinedBy] = dict(_by_key(session, journey.key, name, via))
    linked = [e for e in events if via.get(e.id, KEY) not in (KEY, SPAN)]
    found.update(_by_link(session, journey.id, linked, via))
    found.update(_by_span(session, journey.id, [e for e in events if via.get(e.id) == SPAN]))
    return found


def _key_of(flow: str) -> str:
    """The key whose values make the journeys of `flow` (the first flow's for a flow no longer
    in the rules)."""
    return current_rules().flow(flow).key


def _vias(session: Session, journey_id: int, ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for id_chunk in chunked(ids, CHUNK):
        for row_id, via in session.execute(
            select(JourneyEvent.event_row_id, JourneyEvent.via).where(
                JourneyEvent.journey_id == journey_id, JourneyEvent.event_row_id.in_(id_chunk)
            )
        ):
            found[row_id] = via
    return found


def _by_key(
    session: Session, order_id: str, key_name: str, via: dict[int, str]
) -> Iterable[tuple[int, JoinedByKey]]:
    """The carrier of each keyed event's journey-key row; an empty carrier (a key stored before
    carriers were recorded, migration 0006) is reported as unknown, not as a field."""
    keyed = sorted(i for i, kind in via.items() if kind == KEY)
    rows: dict[int, tuple[str, str | None]] = {}
    for id_chunk in chunked(keyed, CHUNK):
        for row_id, carrier, overruled in session.execute(
            select(
                CorrelationKey.event_row_id, CorrelationKey.carrier, CorrelationKey.overruled
            ).where(
                CorrelationKey.event_row_id.in_(id_chunk),
                CorrelationKey.name == key_name,
                CorrelationKey.value == order_id,
            )
        ):
            rows[row_id] = (carrier, overruled)
    for row_id in keyed:
        carrier, overruled = rows.get(row_id, ("", None))
        yield (
            row_id,
            JoinedByKey(key=key_name, carrier=carrier or None, overruled=overruled or None),
        )


def _by_link(
    session: Session, journey_id: int, linked: list[Event], via: dict[int, str]
) -> Iterable[tuple[int, JoinedByLink]]:
    """Each linked event's link value of the kind that placed it, and the earliest keyed member
    of the journey carrying the same link (the event it went through)."""
    candidates = _link_candidates(session, linked, via)
    wanted = {pair for pairs in candidates.values() for pair in pairs}
    through = _keyed_traces(session, journey_id, {v for k, v in wanted if k == TRACE})
    through |= _keyed_keys(session, journey_id, {(k, v) for k, v in wanted if k != TRACE})
    for event in linked:
        pairs = sorted(candidates.get(event.id, ()))
        if not pairs:
            continue
        # As the correlator chose (the first of the event's links, sorted, that leads here).
        kind, value = next((p for p in pairs if p in through), pairs[0])
        yield event.id, JoinedByLink(via=kind, value=value, through=through.get((kind, value)))


def _by_span(
    session: Session, journey_id: int, placed: list[Event]
) -> Iterable[tuple[int, JoinedByLink]]:
    """Each span-placed event's nearest keyed ancestor in this journey: the span and its
    owner's event_id (one walk per trace, reads/span_parents.py)."""
    parentage = Parentage(session)
    for event in placed:
        if not event.trace_id:
            continue
        owners = parentage.owners(event.trace_id, event.span_id, event.parent_span_id)
        mine = [owner for owner in owners if owner.journey_id == journey_id]
        if mine:
            yield event.id, JoinedByLink(via=SPAN, value=mine[0].span_id, through=mine[0].event_id)
        else:  # the spans moved on since the correlator placed it; say so rather than guess
            yield event.id, JoinedByLink(via=SPAN, value=event.trace_id, through=None)


def _link_candidates(
    session: Session, linked: list[Event], via: dict[int, str]
) -> dict[int, set[tuple[str, str]]]:
    """(kind, value) links of each event, of the kind that placed it."""
    found: dict[int, set[tuple[str, str]]] = defaultdict(set)
    by_key: list[int] = []
    for event in linked:
        if via[event.id] != TRACE:
            by_key.append(event.id)
        elif event.trace_id:
            found[event.id].add((TRACE, event.trace_id))
    for id_chunk in chunked(by_key, CHUNK):
        for row_id, name, value in session.execute(
            select(CorrelationKey.event_row_id, CorrelationKey.name, CorrelationKey.value).where(
                CorrelationKey.event_row_id.in_(id_chunk)
            )
        ):
            if name == via[row_id]:
                found[row_id].add((name, value))
    return found


def _keyed_traces(
    session: Session, journey_id: int, traces: set[str]
) -> dict[tuple[str, str], str]:
    """(trace, id) -> event_id of the earliest keyed member of the journey in that trace."""
    found: dict[tuple[str, str], str] = {}
    for trace_chunk in chunked(sorted(traces), CHUNK):
        for trace_id, event_id in session.execute(
            select(Event.trace_id, Event.event_id)
            .join(JourneyEvent, JourneyEvent.event_row_id == Event.id)
            .where(
                JourneyEvent.journey_id == journey_id,
                JourneyEvent.via == KEY,
                Event.trace_id.in_(trace_chunk),
            )
            .order_by(Event.timestamp, Event.id)
        ):
            if trace_id:
                found.setdefault((TRACE, trace_id), event_id)
    return found


def _keyed_keys(
    session: Session, journey_id: int, pairs: set[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """(key name, value) -> event_id of the earliest keyed member of the journey carrying it."""
    found: dict[tuple[str, str], str] = {}
    for pair_chunk in chunked(sorted(pairs), PAIR_CHUNK):
        for name, value, event_id in session.execute(
            select(CorrelationKey.name, CorrelationKey.value, Event.event_id)
            .join(Event, Event.id == CorrelationKey.event_row_id)
            .join(JourneyEvent, JourneyEvent.event_row_id == Event.id)
            .where(
                JourneyEvent.journey_id == journey_id,
                JourneyEvent.via == KEY,
                tuple_(CorrelationKey.name, CorrelationKey.value).in_(pair_chunk),
            )
            .order_by(Event.timestamp, Event.id)
        ):
            found.setdefault((name, value), event_id)
    return found
