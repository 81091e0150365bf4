"""A trace's spans as a waterfall: the span tree in depth-first order, each row with its bar
placed to scale against the trace's start and end (percentages, so the template needs no
inline style, which the CSP forbids), and the error events and log entries of its span.

Pure and bounded: the tree is built with an explicit stack in one pass over the spans, so a
trace of any depth (the SDK chooses it, or an attacker) costs linear time and no recursion;
at most MAX_ROWS rows are drawn, and nesting (the `<details>` that collapse a subtree, and the
indent) stops at MAX_NEST levels: deeper spans are drawn flat at that level.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from reads.schemas import LogSummary, SpanSummary
from store.levels import is_error
from store.models import Event

MAX_ROWS = 2000
MAX_NEST = 16
MIN_WIDTH = 0.1  # percent: a span of no duration still shows


@dataclass(frozen=True)
class ErrorMark:
    event_id: str
    title: str


@dataclass
class Row:
    span: SpanSummary
    level: int  # nesting level, at most MAX_NEST
    left: float  # percent of the trace's time before the span starts
    width: float  # percent of the trace's time the span lasts
    orphan: bool  # its parent span is not among the trace's spans
    errors: list[ErrorMark] = field(default_factory=list)
    logs: list[LogSummary] = field(default_factory=list)
    opens: bool = False  # its children follow, inside a collapsible subtree
    closes: int = 0  # subtrees that end after it

    @property
    def log_errors(self) -> int:
        return sum(1 for entry in self.logs if entry.level in ("error", "fatal"))


@dataclass
class Waterfall:
    rows: list[Row]
    total: int  # spans read (the row cap may show fewer)
    start: datetime | None
    duration_ms: float
    loose_logs: int  # log entries of the trace on no span drawn

    @property
    def cut(self) -> int:
        return self.total - len(self.rows)


def build(spans: list[SpanSummary], events: Iterable[Event], logs: list[LogSummary]) -> Waterfall:
    """`spans` oldest first (reads/spans.py `trace_spans`); `events` and `logs` of the trace."""
    if not spans:
        return Waterfall([], 0, None, 0.0, len(logs))
    start = min(s.start for s in spans)
    total_ms = max((max(s.end for s in spans) - start).total_seconds() * 1000, 0.001)
    errors: dict[str, list[ErrorMark]] = defaultdict(list)
    for event in events:
        if event.span_id and is_error(event.type, event.level):
            errors[event.span_id].append(ErrorMark(event.event_id, event.title))
    by_span: dict[str, list[LogSummary]] = defaultdict(list)
    for entry in logs:
        if entry.span_id:
            by_span[entry.span_id].append(entry)
    rows: list[Row] = []
    for span, depth, orphan in tree_order(spans)[:MAX_ROWS]:
        offset = (span.start - start).total_seconds() * 1000
        left = min(offset / total_ms * 100, 100.0)
        width = min(max(span.duration_ms / total_ms * 100, MIN_WIDTH), 100.0 - left)
        row = Row(span, min(depth, MAX_NEST), left, max(width, 0.0), orphan)
        row.errors, row.logs = errors.get(span.span_id, []), by_span.get(span.span_id, [])
        rows.append(row)
    _nest(rows)
    drawn = {row.span.span_id for row in rows}
    loose = sum(1 for entry in logs if entry.span_id not in drawn)
    return Waterfall(rows, len(spans), start, total_ms, loose)


def tree_order(spans: list[SpanSummary]) -> list[tuple[SpanSummary, int, bool]]:
    """Depth first, children in the order given (oldest first): (span, depth, orphan).

    A root has no parent; an orphan names a parent that is not here and is drawn at the root,
    marked. A span in a cycle of parents (never reached from a root) is drawn as an orphan
    too, so every span appears exactly once."""
    known: dict[str, SpanSummary] = {}
    for span in spans:
        known.setdefault(span.span_id, span)
    children: dict[str, list[SpanSummary]] = defaultdict(list)
    starts: list[tuple[SpanSummary, bool]] = []
    for span in spans:
        if known[span.span_id] is not span:
            starts.append((span, True))  # a duplicate id: drawn on its own, at the root
        elif span.parent_span_id is None:
            starts.append((span, False))
        elif span.parent_span_id in known and span.parent_span_id != span.span_id:
            children[span.parent_span_id].append(span)
        else:
            starts.append((span, True))
    order: list[tuple[SpanSummary, int, bool]] = []
    seen: set[int] = set()
    for root, orphan in [*starts, *((s, True) for s in spans)]:
        if id(root) in seen:
            continue
        stack = [(root, 0, orphan)]
        while stack:
            span, depth, marked = stack.pop()
            if id(span) in seen:
                continue
            seen.add(id(span))
            order.append((span, depth, marked))
            kids = children.get(span.span_id, []) if known[span.span_id] is span else []
            stack.extend((kid, depth + 1, False) for kid in reversed(kids))
    return order


def _nest(rows: list[Row]) -> None:
    """Which rows open a subtree (the next row is one level deeper) and how many subtrees end
    after each row, so the template writes balanced `<details>` from a flat list."""
    for i, row in enumerate(rows):
        following = rows[i + 1].level if i + 1 < len(rows) else 0
        row.opens = following > row.level
        row.closes = 0 if row.opens else row.level - following
