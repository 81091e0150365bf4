"""The journey rules on hand-made timelines (no database)."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from correlator.flows import Judged, learn
from correlator.journeys import TimelineEvent, root_cause, summarize
from rules.config import FlowRule, Hop, current_rules

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


def info(id: int, service: str, at_ms: float) -> TimelineEvent:
    return ev(id, service, at_ms, type="transaction", level="info", duration_ms=1)


LATER = T0 + timedelta(seconds=301)


def test_a_journey_of_unknown_shape_completes_quietly_and_never_stalls() -> None:
    # Another system's order under the ACME rules: none of its services is a hop.
    events = [info(1, "web", 0), info(2, "billing", 100)]
    rule = current_rules().journey
    early = summarize(events, rule, T0 + timedelta(seconds=10))
    assert (early.status, early.failed_service, early.hops) == ("in_progress", None, [])
    late = summarize(events, rule, LATER)
    assert (late.status, late.failed_service, late.missing_hops) == ("completed", None, [])
    assert late.impacted_services == [] and late.hops == []
    failed = summarize([*events, ev(3, "billing", 200)], rule, LATER)
    assert (failed.status, failed.failed_service) == ("failed", "billing")


def test_a_flow_with_no_hops_yet_judges_every_journey_as_of_unknown_shape() -> None:
    nothing_learned = Judged(hops=[], stall_after=300)
    journey = summarize([info(1, "web", 0)], nothing_learned, LATER)
    assert (journey.status, journey.missing_hops, journey.hops) == ("completed", [], [])


def test_learned_hops_stall_the_journey_at_the_next_learned_service() -> None:
    learned = Judged(hops=[Hop(service=s, name=s) for s in ("web", "billing", "fulfilment")])
    events = [info(1, "web", 0), info(2, "billing", 100)]
    stalled = summarize(events, learned, LATER, known_services={"web", "billing", "fulfilment"})
    assert (stalled.status, stalled.failed_service) == ("stalled", "fulfilment")
    assert stalled.missing_hops == ["fulfilment"]
    assert [h.status for h in stalled.hops] == ["ok", "ok", "missing"]
    done = summarize([*events, info(3, "fulfilment", 200)], learned, LATER)
    assert done.status == "completed"


def test_a_declared_hop_of_a_service_never_seen_is_not_missing() -> None:
    # Rules of a flow whose services this system mostly does not have: it has only "order" and
    # "payment" of four; nothing after the payment is expected, and the hop table says why.
    flow = FlowRule(
        name="refund",
        key="order_id",
        hops=[
            Hop(service=s, name=s) for s in ("frontend", "order", "payment", "refunds", "ledger")
        ],
    )
    events = [info(2, "order", 10), info(3, "payment", 20)]
    known = {"order", "payment", "web", "billing"}
    journey = summarize(events, flow, LATER, known_services=known)
    assert (journey.status, journey.failed_service, journey.missing_hops) == ("completed", None, [])
    assert [h.status for h in journey.hops] == ["unseen", "ok", "ok", "unseen", "unseen"]
    # Without the payment the next known hop is missing, never a service it does not have.
    stalled = summarize(events[:1], flow, LATER, known_services=known)
    assert (stalled.status, stalled.failed_service) == ("stalled", "payment")
    assert [h.status for h in stalled.hops] == ["unseen", "ok", "missing", "unseen", "unseen"]


def test_a_declared_service_down_since_the_first_event_is_still_expected() -> None:
    # ACME's rules on a fresh database whose shipping service has been down from the start:
    # three of the flow's four services have sent events, so the flow is this system's and
    # shipping is expected. The order stalls at shipping; it is not called completed.
    events = [info(1, "frontend", 0), info(2, "order", 10), info(3, "payment", 20)]
    events.append(info(4, "order", 30))
    known = {"frontend", "order", "payment"}
    journey = summarize(events, current_rules().journey, LATER, known_services=known)
    assert (journey.status, journey.failed_service, journey.missing_hops) == (
        "stalled",
        "shipping",
        ["shipping"],
    )
    assert [h.status for h in journey.hops] == ["ok", "ok", "ok", "ok", "missing"]


def test_a_path_is_learned_from_enough_journeys_with_its_support() -> None:
    flow = FlowRule(name="booking", key="booking_ref", learn_min_journeys=5, learn_support=0.6)
    usual = [["web", "billing", "fulfilment"]] * 3 + [["web", "audit", "billing", "fulfilment"]]
    assert learn(flow, usual, T0).hops == []  # 4 of 5 journeys: still learning
    path = learn(flow, [*usual, ["billing", "web", "fulfilment"]], T0)
    assert [h.service for h in path.hops] == ["web", "billing", "fulfilment"]
    assert path.support == {"web": 1.0, "billing": 1.0, "fulfilment": 1.0, "audit": 0.2}
    assert path.journeys == 5
    entry_first = learn(flow.model_copy(update={"entry": "billing"}), [*usual] * 2, T0)
    assert [h.service for h in entry_first.hops] == ["billing", "web", "fulfilment"]
