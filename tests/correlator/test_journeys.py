"""The journey rules on hand-made timelines (no database)."""

from datetime import UTC, datetime, timedelta

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
