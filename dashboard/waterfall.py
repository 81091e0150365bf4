"""A trace's spans as a waterfall: the span tree in depth-first order, each row with its bar
placed to scale against the trace's start and end (percentages, so the template needs no
inline style, which the CSP forbids), and the error events and log entries of its span.

Pure and bounded: the tree is built with an explicit stack in one pass over the spans, so a
trace of any depth (the SDK chooses it, or an attacker) costs linear time and no recursion;
at most MAX_ROWS rows are drawn, and nesting (the `<details>` that collapse a subtree, and the
indent) stops at MAX_NEST levels: deeper spans are drawn flat at that level.

Each row carries what the template writes, already chosen and formatted here (labels, the
bar's place and width, the duration as text), so the template is one flat loop of plain
lookups and still escapes every value: a macro per row that formatted its own numbers took
48 ms of a 2,000-span page, the flat loop 20 ms (bench/telemetry.py reads).
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from reads.schemas import LogSummary, SpanRow
from store.levels import is_error
from store.models import Event

MAX_ROWS = 2000
MAX_NEST = 16
MIN_WIDTH = 0.1  # percent: a span of no duration still shows
ERROR_LOG_LEVELS = frozenset({"error", "fatal"})
NONE: tuple[()] = ()  # the marks of a span that has none, shared


@dataclass(frozen=True, slots=True)
class ErrorMark:
    event_id: str
    title: str


class Row(NamedTuple):
    """One span drawn, as the template writes it: its loop names these fields in this order
    (tests/dashboard/test_waterfall.py holds them to it)."""

    opens: bool  # its children follow, inside a collapsible subtree
    closes: int  # subtrees that end after it
    failed: bool  # an error event names it, or its status says so
    orphan: bool  # its parent span is not among the trace's spans
    span_id: str
    level: int  # nesting level, at most MAX_NEST
    service: str
    op: str
    name: str
    parent: str  # the parent span id an orphan names
    ms: str  # its duration, one decimal
    x: str  # percent of the trace's time before it starts, as the bar's attribute
    w: str  # percent of the trace's time it lasts, likewise
    status: str
    errors: Sequence[ErrorMark]
    logs: Sequence[LogSummary]
    log_errors: bool  # one of its log entries is an error
    span: SpanRow


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


def build(spans: list[SpanRow], events: Iterable[Event], logs: list[LogSummary]) -> Waterfall:
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
    order = tree_order(spans)[:MAX_ROWS]
    levels = [min(depth, MAX_NEST) for _, depth, _ in order]
    levels.append(0)  # after the last row, every subtree ends
    rows: list[Row] = []
    for i, (span, _, orphan) in enumerate(order):
        left = min((span.start - start).total_seconds() * 1000 / total_ms * 100, 100.0)
        width = max(min(max(span.duration_ms / total_ms * 100, MIN_WIDTH), 100.0 - left), 0.0)
        marks, entries = errors.get(span.span_id, NONE), by_span.get(span.span_id, NONE)
        level, following = levels[i], levels[i + 1]
        rows.append(
            Row(
                following > level, max(level - following, 0), bool(marks) or span.error, orphan,
                span.span_id, level, span.service or "?", span.op or "", span.name,
                span.parent_span_id or "", f"{span.duration_ms:.1f}", f"{left:.2f}",
                f"{width:.2f}", span.status or "", marks, entries,
                bool(entries) and any(entry.level in ERROR_LOG_LEVELS for entry in entries), span,
            )
        )  # fmt: skip
    drawn = {row.span_id for row in rows}
    loose = sum(1 for entry in logs if entry.span_id not in drawn)
    return Waterfall(rows, len(spans), start, total_ms, loose)


def tree_order(spans: list[SpanRow]) -> list[tuple[SpanRow, int, bool]]:
    """Depth first, children in the order given (oldest first): (span, depth, orphan).

    A root has no parent; an orphan names a parent that is not here and is drawn at the root,
    marked. A span in a cycle of parents (never reached from a root) is drawn as an orphan
    too, so every span appears exactly once. Spans are handled by their place in `spans`
    (a dict of ids, lists of places, a bytearray of those seen): a third of the time that
    the same walk over the objects themselves took."""
    first: dict[str, int] = {}
    for i, span in enumerate(spans):
        first.setdefault(span.span_id, i)
    children: dict[int, list[int]] = {}
    starts: list[tuple[int, bool]] = []
    for i, span in enumerate(spans):
        own = first[span.span_id] == i  # else a duplicate id: drawn on its own, at the root
        named = span.parent_span_id
        parent = first.get(named) if own and named is not None else None
        if parent is None or parent == i:
            starts.append((i, named is not None or not own))
        elif parent in children:
            children[parent].append(i)
        else:
            children[parent] = [i]
    order: list[tuple[SpanRow, int, bool]] = []
    seen = bytearray(len(spans))
    for root, orphan in [*starts, *((i, True) for i in range(len(spans)))]:
        if seen[root]:
            continue
        stack = [(root, 0, orphan)]
        while stack:
            i, depth, marked = stack.pop()
            if seen[i]:
                continue
            seen[i] = 1
            order.append((spans[i], depth, marked))
            if i in children:
                stack.extend([(kid, depth + 1, False) for kid in reversed(children[i])])
    return order
