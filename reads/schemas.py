"""Response shapes of the read API (docs/reference.md). Timestamps serialise as RFC 3339 UTC."""

from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict


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
    the event_id of the earliest such member (null when none is left, e.g. after pruning)."""

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


class TraceEvents(BaseModel):
    trace_id: str
    events: list[EventSummary]


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


class Hop(BaseModel):
    service: str
    name: str
    status: str
    first_seen: datetime | None
    last_seen: datetime | None


class OrderDetail(BaseModel):
    order_id: str
    status: str
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
COLUMN_OF = {"first_seen": "first_seen_at", "last_seen": "last_seen_at", "order_id": "key"}


def from_row(shape: type[Shape], row: object, **given: Any) -> Shape:
    """`shape` filled from the row's columns of the same name, `given` values first."""
    values = {
        name: given[name] if name in given else getattr(row, COLUMN_OF.get(name, name))
        for name in shape.model_fields
    }
    return shape.model_validate(values)
