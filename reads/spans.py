"""Reading spans: the spans of one trace, and how many an order's traces hold."""

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reads import schemas
from store.models import Span

# A trace's spans returned at once (an SDK sends at most 1,000 per transaction; a trace that
# crosses many services holds more, but the first this many are what a reader can follow).
TRACE_SPAN_LIMIT = 5000
# The columns of a SpanRow, in its order: not `attributes`, whose JSON (a dozen or more per
# span) cost more to decode than the rest of the row, nor ORM objects (a 2,000-span trace
# read 40 % faster, bench/telemetry.py).
SUMMARY_COLUMNS = (
    Span.span_id, Span.parent_span_id, Span.segment_id, Span.is_segment, Span.service, Span.op,
    Span.name, Span.started_at, Span.ended_at, Span.duration_ms, Span.status, Span.release,
    Span.environment,
)  # fmt: skip
# An order's traces counted (an order crosses a handful).
ORDER_TRACE_LIMIT = 100


def trace_spans(
    session: Session, trace_id: str, error_span_ids: Collection[str]
) -> list[schemas.SpanRow]:
    """Oldest first, a flat list whose `parent_span_id` links the tree; `error` marks the spans
    an error event of the trace names (`error_span_ids`) and those that ended in error (status
    `error`: a span v2 entry's, an OTLP span's status code ERROR). Tuples, not summaries: a
    SpanSummary made per row (`schemas.from_row`) took 25 ms of a 2,000-span trace's 45 ms read;
    the page draws the tuples and the API writes them (`schemas.trace_json`) as they are."""
    rows = session.execute(
        select(*SUMMARY_COLUMNS)
        .where(Span.trace_id == trace_id)
        .order_by(Span.started_at, Span.id)
        .limit(TRACE_SPAN_LIMIT)
    )
    return [
        schemas.SpanRow._make((*row, row.span_id in error_span_ids or row.status == "error"))
        for row in rows
    ]


def span_count(session: Session, trace_ids: list[str]) -> int:
    if not trace_ids:
        return 0
    query = select(func.count()).where(Span.trace_id.in_(trace_ids[:ORDER_TRACE_LIMIT]))
    return int(session.scalar(query) or 0)
