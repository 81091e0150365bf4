"""The journey rules on hand-made timelines (no database)."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from correlator.journeys import TimelineEvent, root_cause, summarize
from rules.config import current_rules

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def ev(
    id: int,
    service: str,
    at_ms: float,
    *,
    type: str = "error",
    level: str = "error",
    duration_ms: float | None = None,
    span: str | None = None,
    trace: str = "t1",
) -> TimelineEvent:
    return TimelineEvent(
        id=id,
        timestamp=T0 + timedelta(milliseconds=at_ms),
        duration_ms=duration_ms,
        type=type,
        level=level,
        service=service,
        release="r1",
        environment="prod",
        trace_id=trace,
        span_id=span,
    )


def test_a_caller_failing_because_its_callee_did_is_not_the_cause() -> None:
    # order (span a) calls catalog (span b); catalog raises but reports after answering, so
    # its error is stamped after order's own error.
    events = [
        ev(1, "order", 174, type="transaction", level="info", duration_ms=143, span="a"),
        ev(2, "order", 166, span="a"),
        ev(3, "catalog", 173, span="b"),
        ev(4, "catalog", 190, type="transaction", level="info", duration_ms=134, span="b"),
        ev(5, "frontend", 10, type="transaction", level="info", duration_ms=5, span="f"),
    ]
    assert root_cause(events) == events[2]
    journey = summarize(events, current_rules().journey, T0)
    assert (journey.status, journey.failed_service) == ("failed", "catalog")
    assert journey.impacted_services == ["catalog", "order"]


def test_errors_one_after_another_the_first_is_the_cause() -> None:
    events = [ev(1, "payment", 1000, span="p"), ev(2, "frontend", 1500, span="f")]
    assert root_cause(events) == events[0]


def _brute_force_cause(events: list[TimelineEvent]) -> TimelineEvent | None:
    """root_cause's definition, read literally: every error against every other."""
    units = {
        (e.trace_id, e.span_id): e.started_at
        for e in events
        if e.type == "transaction" and e.span_id
    }
    errors = [e for e in events if e.is_error]
    start = {e.id: units.get((e.trace_id, e.span_id), e.timestamp) for e in errors}
    causes = [
        e
        for e in errors
        if not any(
            o.id != e.id and o.trace_id == e.trace_id and start[e.id] < start[o.id] <= e.timestamp
            for o in errors
        )
    ] or errors
    return min(causes, key=lambda e: (start[e.id], e.id), default=None)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 50),  # at, ms
            st.sampled_from(["t1", "t2"]),
            st.sampled_from(["a", "b", "c", None]),
            st.booleans(),  # transaction or error
            st.integers(1, 40),  # a transaction's duration
        ),
        max_size=14,
    )
)
def test_root_cause_is_its_definition(
    rows: list[tuple[int, str, str | None, bool, int]],
) -> None:
    events = [
        ev(i, "svc", at, trace=trace, span=span, type="transaction", level="info", duration_ms=d)
        if transaction
        else ev(i, "svc", at, trace=trace, span=span)
        for i, (at, trace, span, transaction, d) in enumerate(rows)
    ]
    assert root_cause(events) == _brute_force_cause(events)


def test_a_journey_of_many_errors_is_summarized_quickly_enough_to_finish() -> None:
    # Every delivery of a retry storm carries the same order: 20,000 errors in one journey.
    # Compared pairwise that is 400 million comparisons; by sorted starts it is instant.
    events = [ev(i, "payment", i % 997, span=f"s{i}") for i in range(20_000)]
    assert root_cause(events) == events[0]


def test_a_journey_without_errors_has_no_cause() -> None:
    assert root_cause([ev(1, "order", 0, type="transaction", level="info")]) is None


def test_hops_follow_the_expected_sequence_with_skips() -> None:
    events = [
        ev(1, "order", 0, level="info", type="transaction", duration_ms=10),
        ev(2, "payment", 100, level="info"),
        ev(3, "order", 200, level="info"),
    ]
    journey = summarize(events, current_rules().journey, T0 + timedelta(seconds=1))
    assert [h.status for h in journey.hops] == ["skipped", "ok", "ok", "ok", "pending"]
    assert journey.status == "in_progress"
