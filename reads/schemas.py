"""Response shapes of the read API (docs/reference.md). Timestamps serialise as RFC 3339 UTC."""

from datetime import datetime
from typing import Any, Literal, NamedTuple, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, TypeAdapter


class EventSummary(BaseModel):
    event_id: str
    timestamp: datetime
    service: str | None
    level: str
    type: str
    title: str
    message: str
    release: str | None
    environment: str | None
    trace_id: str | None
    issue_id: int | None


class JoinedByKey(BaseModel):
    """The event carries the journey's key itself: in which field (`carrier`: "tag:order_id",
    "extra:OrderID", "context:order.id", "message", "exception", "transaction",
    "breadcrumb:OrderID"; null for keys stored before carriers were recorded) and which other
    values of its own it overruled (docs/decisions.md#11)."""

    via: Literal["key"] = "key"
    key: str
    carrier: str | None
    overruled: str | None


class JoinedByLink(BaseModel):
    """The event carries no key of its own and shares a link (`via`: "trace" or a secondary
    key's name) with a member that does: `value` is the shared trace id or key value, `through`
    the event_id of the earliest such member (null when none is left, e.g. after pruning).
    `via` "span": its trace holds several orders and span parentage placed it: `value` is the
    nearest span above its own that a keyed member owns, `through` that member's event_id."""

    via: str
    value: str
    through: str | None


JoinedBy = JoinedByKey | JoinedByLink


class OrderEvent(EventSummary):
    """An event of an order's journey, with how it joined the journey (docs/decisions.md#12)."""

    joined_by: JoinedBy | None


class EventDetail(EventSummary):
    project_id: int
    received_at: datetime
    platform: str | None
    logger: str | None
    server_name: str | None
    transaction: str | None
    culprit: str
    span_id: str | None
    parent_span_id: str | None
    op: str | None
    duration_ms: float | None
    handled: bool | None
    source: str
    external_url: str | None
    tags: dict[str, str]
    keys: dict[str, list[str]]
    payload: Any


class SpanSummary(BaseModel):
    """One span of a trace; `parent_span_id` links the tree (None for a root, or a parent
    that was not received). `error`: an error event of the trace names this span, or it ended
    in error (status `error`)."""

    span_id: str
    parent_span_id: str | None
    segment_id: str | None
    is_segment: bool
    service: str | None
    op: str | None
    name: str
    start: datetime
    end: datetime
    duration_ms: float
    status: str | None
    release: str | None
    environment: str | None
    error: bool


class SpanRow(NamedTuple):
    """A span as a trace's read returns it (reads/spans.py `trace_spans`): SpanSummary's fields,
    in its order, in a tuple; the trace page draws these, the API answers `SpanSummary`."""

    span_id: str
    parent_span_id: str | None
    segment_id: str | None
    is_segment: bool
    service: str | None
    op: str | None
    name: str
    start: datetime
    end: datetime
    duration_ms: float
    status: str | None
    release: str | None
    environment: str | None
    error: bool


class LogSummary(BaseModel):
    """One log entry; `id` is what the list's cursor counts in."""

    id: int
    timestamp: datetime
    level: str
    severity_number: int | None
    body: str
    template: str | None
    parameters: list[Any]
    trace_id: str | None
    span_id: str | None
    service: str | None
    release: str | None
    environment: str | None
    attributes: dict[str, Any]


class LogList(BaseModel):
    logs: list[LogSummary]
    next_cursor: str | None


class OrderLog(LogSummary):
    """A log entry of an order, with how it belongs to it: it carries the order's key (in which
    attribute, or in its body), or it is on one of the journey's traces (`through` null: the
    trace is the journey's own)."""

    joined_by: JoinedBy


class TraceEvents(BaseModel):
    """A trace's events, spans (oldest first, flat, linked by `parent_span_id`) and log
    entries (oldest first)."""

    trace_id: str
    events: list[EventSummary]
    spans: list[SpanSummary]
    logs: list[LogSummary]


_EVENT_LIST = TypeAdapter(list[EventSummary])
_LOG_LIST = TypeAdapter(list[LogSummary])


def trace_json(
    trace_id: str, events: list[EventSummary], spans: list[SpanRow], logs: list[LogSummary]
) -> bytes:
    """TraceEvents' JSON, byte for byte (tests/dashboard/test_telemetry_api.py), with its spans
    written by orjson from their rows: a SpanSummary made and written per span took 10 ms of a
    2,000-span trace's answer, this 3 ms (bench/telemetry.py reads)."""
    return orjson.dumps(
        {
            "trace_id": trace_id,
            "events": _EVENT_LIST.dump_python(events, mode="json"),
            "spans": [row._asdict() for row in spans],
            "logs": _LOG_LIST.dump_python(logs, mode="json"),
        },
        option=orjson.OPT_UTC_Z,
    )


class IssueSummary(BaseModel):
    id: int
    project_id: int
    title: str
    culprit: str
    type: str
    level: str
    status: str
    substatus: str
    count: int
    first_seen: datetime
    last_seen: datetime
    first_release: str | None
    last_release: str | None


class Comment(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    comment_id: str
    author: str | None
    text: str
    created_at: datetime
    updated_at: datetime


class IssueDetail(IssueSummary):
    resolved_at: datetime | None
    regressed_at: datetime | None
    regressed_release: str | None
    sentry_id: str | None
    external_url: str | None
    assigned_to: str | None
    services: list[str]
    releases: list[str]
    latest_events: list[EventSummary]
    comments: list[Comment]


class IssueList(BaseModel):
    issues: list[IssueSummary]
    next_cursor: str | None


class SessionTotals(BaseModel):
    release: str
    environment: str
    total: int
    exited: int
    errored: int
    abnormal: int
    crashed: int
    unhandled: int
    users: int
    crashed_users: int


class SessionList(BaseModel):
    sessions: list[SessionTotals]


class OutcomeTotal(BaseModel):
    outcome: str
    category: str
    reason: str
    quantity: int


class OutcomeList(BaseModel):
    outcomes: list[OutcomeTotal]


class DeliverySummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    request_id: str
    resource: str
    action: str
    received_at: datetime
    outcome: str


class DeliveryList(BaseModel):
    deliveries: list[DeliverySummary]
    next_cursor: str | None


class OrderSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    order_id: str
    flow: str
    scope: str  # the correlation scope (rules file [[scopes]]; "default")
    status: str
    first_seen: datetime
    last_seen: datetime
    services: list[str]
    failed_service: str | None
    releases: list[str]
    event_count: int
    error_count: int


class OrderList(BaseModel):
    orders: list[OrderSummary]
    next_cursor: str | None


class FlowHop(BaseModel):
    service: str
    name: str
    # The share of the flow's learned-from journeys this service appeared in (learned hops).
    support: float | None = None


class Flow(BaseModel):
    """A flow of the rules with the hops its journeys are judged by: declared, or learned
    (`learned` once `journeys` reached `learn_min_journeys`; `learning` says how far)."""

    name: str
    key: str
    entry: str | None
    stall_after: float
    declared: bool
    learned: bool
    hops: list[FlowHop]
    journeys: int | None = None
    learn_min_journeys: int | None = None
    learn_support: float | None = None
    learning: str | None = None
    support: dict[str, float] = {}
    learned_at: datetime | None = None


class FlowList(BaseModel):
    flows: list[Flow]


class Hop(BaseModel):
    service: str
    name: str
    status: str
    first_seen: datetime | None
    last_seen: datetime | None


class OrderDetail(BaseModel):
    order_id: str
    flow: str
    scope: str  # the correlation scope (rules file [[scopes]]; "default")
    status: str
    status_reason: str  # why it has that status, in one sentence
    first_seen: datetime
    last_seen: datetime
    services: list[str]
    impacted_services: list[str]
    failed_service: str | None
    missing_hops: list[str]
    releases: list[str]
    environments: list[str]
    trace_ids: list[str]
    event_count: int
    error_count: int
    hops: list[Hop]
    events: list[OrderEvent]
    logs: list[OrderLog]  # the newest ORDER_LOG_LIMIT (reads/logs.py), newest first
    span_count: int  # spans of the order's traces


class ServiceImpact(BaseModel):
    service: str
    events: int
    errors: int
    failed_orders: int
    stalled_orders: int
    last_error_at: datetime | None


class ServiceList(BaseModel):
    services: list[ServiceImpact]


class ReleaseSummary(BaseModel):
    version: str
    first_seen: datetime | None
    last_seen: datetime | None
    events: int
    errors: int
    orders: int
    failed_orders: int
    crash_free_sessions: float | None


class ReleaseList(BaseModel):
    releases: list[ReleaseSummary]


class OrderCounts(BaseModel):
    total: int
    completed: int
    failed: int
    stalled: int
    in_progress: int


class SessionCounts(BaseModel):
    total: int
    crashed: int
    errored: int
    abnormal: int
    unhandled: int


class ReleaseIssue(BaseModel):
    id: int
    title: str
    level: str
    status: str
    count: int
    first_seen: datetime
    last_seen: datetime


class ReleaseService(BaseModel):
    service: str
    events: int
    errors: int
    failed_orders: int
    stalled_orders: int
    error_rate: float | None


class ReleaseDetail(BaseModel):
    version: str
    environments: list[str]
    first_seen: datetime | None
    last_seen: datetime | None
    events: int
    errors: int
    orders: OrderCounts
    order_success_rate: float | None
    sessions: SessionCounts
    crash_free_sessions: float | None
    crash_free_users: float | None
    users: int
    new_issues: list[ReleaseIssue]  # the 50 biggest
    new_issue_count: int
    regressed_issues: list[ReleaseIssue]  # the 50 biggest
    regressed_issue_count: int
    services: list[ReleaseService]
    previous_release: str | None
    delta: dict[str, float | None]


class GateCheck(BaseModel):
    name: str  # order_success_rate | crash_free_sessions | new_issues
    value: float | None
    baseline: float | None
    limit: float
    passed: bool | None  # None: not measured on both releases, so not deciding
    reason: str


class ReleaseGate(BaseModel):
    version: str
    baseline: str | None
    verdict: Literal["pass", "fail", "insufficient_data"]
    reasons: list[str]  # why it failed, or what data is missing
    checks: list[GateCheck]


class MonitorSchedule(BaseModel):
    """`crontab` with the expression as `value`, or `interval`: `value` `unit`s."""

    type: Literal["crontab", "interval"]
    value: str | int
    unit: str | None


class MonitorSummary(BaseModel):
    """A cron monitor (docs/protocol.md#check-ins). `status`: `new` (no run ended yet), `ok`,
    `error`, `missed` or `timeout`; margins and runtimes in minutes."""

    project_id: int
    slug: str
    schedule: MonitorSchedule
    checkin_margin: int
    max_runtime: int
    timezone: str
    status: str
    last_check_in_at: datetime | None
    next_expected_at: datetime | None


class MonitorList(BaseModel):
    monitors: list[MonitorSummary]
    next_cursor: str | None


class MonitorRun(BaseModel):
    """One run: `in_progress`, `ok`, `error`, `timeout`, or `missed` (no check-in came for
    `expected_at`); `duration` in seconds, as the SDK measured it."""

    check_in_id: str
    status: str
    duration: float | None
    release: str | None
    environment: str | None
    trace_id: str | None
    expected_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    received_at: datetime


class MonitorDetail(MonitorSummary):
    runs: list[MonitorRun]  # newest first
    next_cursor: str | None


class FeedbackSummary(BaseModel):
    """What a user said (`source`: "feedback" or "user_report"), the event it is about, its
    trace and its order: the order the feedback carries itself, else the associated event's
    journey, else its trace's (when that trace leads to one journey); null when none."""

    event_id: str
    source: str
    associated_event_id: str | None
    trace_id: str | None
    order_id: str | None
    name: str | None
    email: str | None
    message: str
    url: str | None
    release: str | None
    environment: str | None
    timestamp: datetime
    received_at: datetime


class FeedbackList(BaseModel):
    feedback: list[FeedbackSummary]
    next_cursor: str | None


class AttachmentSummary(BaseModel):
    """An attachment as the client described it; `size` in bytes as stored (after scrubbing
    for text). The client's `content_type` is shown, never used to serve the file."""

    model_config = ConfigDict(from_attributes=True)

    filename: str
    content_type: str
    attachment_type: str
    size: int
    received_at: datetime


class AttachmentList(BaseModel):
    event_id: str
    attachments: list[AttachmentSummary]


Shape = TypeVar("Shape", bound=BaseModel)
# Where a response field's name differs from the stored column's: the API keeps the names the
# public interface promised (docs/reference.md), the tables the `_at` convention.
COLUMN_OF = {
    "first_seen": "first_seen_at",
    "last_seen": "last_seen_at",
    "order_id": "key",
    "start": "started_at",
    "end": "ended_at",
}


def from_row(shape: type[Shape], row: object, **given: Any) -> Shape:
    """`shape` filled from the row's columns of the same name, `given` values first."""
    values = {
        name: given[name] if name in given else getattr(row, COLUMN_OF.get(name, name))
        for name in shape.model_fields
    }
    return shape.model_validate(values)


class AlertDeliverySummary(BaseModel):
    """One notification of an alert to one target (docs/reference.md#alert-deliveries).
    `status`: `pending` (waiting for its first or next attempt), `delivered`, or `dead`
    (dead-lettered after the last attempt); `last_status_code` and `last_error` tell why."""

    model_config = ConfigDict(from_attributes=True)

    delivery_id: str
    alert_id: int
    notice: Literal["fired", "resolved"]
    target: str
    target_kind: Literal["webhook", "slack", "email"]
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class AlertSummary(BaseModel):
    """An alert (docs/reference.md#alerts): `firing` from `fired_at` until its condition
    cleared at `resolved_at`. `url` is the dashboard page that shows it."""

    id: int
    rule: str
    condition: str
    group_key: str
    status: Literal["firing", "resolved"]
    summary: str
    value: float
    threshold: float
    url: str
    details: dict[str, Any]
    fired_at: datetime
    resolved_at: datetime | None
    deliveries: list[AlertDeliverySummary]


class AlertList(BaseModel):
    alerts: list[AlertSummary]
    firing: int  # alerts firing now, whatever the page shows
    dead_letters: int  # notifications given up on
    next_cursor: str | None


class AlertDeliveryList(BaseModel):
    deliveries: list[AlertDeliverySummary]
    next_cursor: str | None
