"""Response shapes of the read API (CONTRACT.md). Timestamps serialise as RFC 3339 UTC."""

from datetime import datetime
from typing import Any

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
