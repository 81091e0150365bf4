"""Which keyed event a keyless one descends from, by span parentage within one trace.

A trace can hold several orders: an SDK without a transaction keeps one trace per scope, so a
worker or a client thread sends order after order on the same trace id. The trace alone then
cannot say which order a keyless event (a callee's transaction or error that carries no order
id) belongs to. Its spans can: the callee's transaction names the caller's outgoing span as its
parent, and that span is a child of the caller's keyed transaction (the `span` table holds every
transaction's children with their segment). Walking up from the keyless event's span to the
nearest span that a keyed event owns names the order (docs/decisions.md#11).

The walk is bounded: a trace's spans are read once, at most `MAX_SPANS` of them, and a walk
takes at most `MAX_DEPTH` steps and stops at a span seen before (parent links come from
untrusted payloads and may loop).
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from store.models import Event, JourneyEvent, Span

KEY = "key"  # journey_event.via of an event that carries the journey key (correlator/worker.py)
SPAN = "span"  # journey_event.via of an event placed by span parentage in a shared trace
MAX_SPANS = 20_000  # spans of one trace read for a walk
MAX_DEPTH = 256  # steps of one walk


@dataclass(frozen=True, slots=True)
class Owner:
    """A keyed member of a journey that owns a span: the span itself, or the transaction whose
    segment holds it."""

    journey_id: int
    event_id: str  # the owner's event_id, as the order API names it
    span_id: str


@dataclass(slots=True)
class TraceSpans:
    """One trace's span parentage and the spans its keyed journey members own."""

    parent: dict[str, str | None] = field(default_factory=dict)
    segment: dict[str, str | None] = field(default_factory=dict)
    owned: dict[str, list[Owner]] = field(default_factory=lambda: defaultdict(list))

    def owners(self, span_id: str | None, parent_span_id: str | None) -> list[Owner]:
        """The owners of the nearest span at or above `span_id` (or, when that span was never
        stored, above `parent_span_id`) that a keyed member owns; none when no such span."""
        for node in self._path(span_id, parent_span_id):
            found = self.owned.get(node) or self.owned.get(self.segment.get(node) or "")
            if found:
                return found
        return []

    def _path(self, span_id: str | None, parent_span_id: str | None) -> Iterator[str]:
        seen: set[str] = set()
        node = span_id
        if not node or node not in self.parent:  # never stored as a span: go by its parent
            if node:
                yield node  # a keyed event may still own it
            node = parent_span_id
        while node and node not in seen and len(seen) < MAX_DEPTH:
            seen.add(node)
            yield node
            node = self.parent.get(node)


def trace_spans(reader: Connection | Session, trace_id: str) -> TraceSpans:
    """The trace's spans and what its keyed journey members own (three bounded reads)."""
    spans = TraceSpans()
    for span_id, parent, segment in reader.execute(
        select(Span.span_id, Span.parent_span_id, Span.segment_id)
        .where(Span.trace_id == trace_id)
        .limit(MAX_SPANS)
    ):
        spans.parent[span_id] = parent
        spans.segment[span_id] = segment
    for owned, journey_id, event_id in reader.execute(
        select(Event.span_id, JourneyEvent.journey_id, Event.event_id)
        .join(JourneyEvent, JourneyEvent.event_row_id == Event.id)
        .where(Event.trace_id == trace_id, JourneyEvent.via == KEY, Event.span_id.is_not(None))
        .order_by(Event.timestamp, Event.id)
        .limit(MAX_SPANS)
    ):
        if owned:
            spans.owned[owned].append(Owner(journey_id, event_id, owned))
    return spans


@dataclass(slots=True)
class Parentage:
    """Span parentage of the traces asked about, each trace read once (`trace_spans`)."""

    reader: Connection | Session
    traces: dict[str, TraceSpans] = field(default_factory=dict)

    def owners(self, trace_id: str, span_id: str | None, parent_span_id: str | None) -> list[Owner]:
        """`TraceSpans.owners` in trace `trace_id`."""
        if trace_id not in self.traces:
            self.traces[trace_id] = trace_spans(self.reader, trace_id)
        return self.traces[trace_id].owners(span_id, parent_span_id)
