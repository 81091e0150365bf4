"""What one request asks the writer to store: the batch and the rows it is made of.

Apart from the commit machinery (collector/writer.py, collector/persist.py) so that the readers
that build batches and the code that stores them both import it, and not each other.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

from collector.checkins import CheckInItem
from collector.sessions import SessionCounts, SessionUpdate, UserSeen
from rules.extract import Key


class EventRow(TypedDict):
    """The columns of one event as normalised at ingest (store/models.py `Event`, less the
    project and issue, which the writer adds when it stores the row)."""

    event_id: str
    type: str
    timestamp: datetime
    received_at: datetime
    level: str
    platform: str | None
    logger: str | None
    service: str | None
    server_name: str | None
    release: str | None
    environment: str | None
    transaction: str | None
    title: str
    culprit: str
    message: str
    trace_id: str | None
    span_id: str | None
    parent_span_id: str | None
    op: str | None
    duration_ms: float | None
    handled: bool | None
    tags: dict[str, str]
    payload: bytes  # the raw event, compressed
    source: str  # "sdk" or "webhook"
    external_url: str | None


@dataclass(frozen=True)
class GroupSeed:
    """What an event contributes to its issue."""

    hash: str
    title: str
    culprit: str
    type: str
    level: str
    sentry_id: str | None = None  # the Sentry issue, for events that came by webhook


@dataclass(frozen=True)
class NormalizedEvent:
    row: EventRow
    keys: list[Key]
    group: GroupSeed | None  # transactions are not grouped into issues


class SpanRow(TypedDict):
    """The columns of one span (store/models.py `Span`, less the project)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    segment_id: str | None
    is_segment: bool
    service: str | None
    op: str | None
    name: str
    started_at: datetime
    ended_at: datetime
    duration_ms: float
    status: str | None
    release: str | None
    environment: str | None
    attributes: dict[str, Any]  # capped (collector/limits.py)
    received_at: datetime


@dataclass(frozen=True)
class SpanRecord:
    row: SpanRow
    keys: list[Key]


class LogRow(TypedDict):
    """The columns of one log entry (store/models.py `LogEntry`, less the project)."""

    digest: str  # of the entry as received and scrubbed: a replay is stored once
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
    received_at: datetime


@dataclass(frozen=True)
class LogRecord:
    row: LogRow
    keys: list[Key]


@dataclass(frozen=True)
class Outcome:
    outcome: str
    category: str
    reason: str
    quantity: int


# An outcome the writer's transaction decided, with its project (stored, duplicate, refused).
ProjectOutcome = tuple[int, Outcome]


class DroppedItem(Exception):
    """An envelope item answered with an outcome instead of being stored (docs/protocol.md
    #item-types): one bad item must not cost the envelope's other items."""

    def __init__(self, outcome: str, reason: str) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason


@dataclass(frozen=True)
class Delivery:
    """A webhook delivery as received; stored once per Request-ID."""

    request_id: str
    resource: str
    action: str
    received_at: datetime
    outcome: str
    installation_uuid: str | None
    payload: bytes  # compressed


@dataclass(frozen=True)
class SentryIssue:
    """An issue as sentry.io describes it (`issue.*` webhooks)."""

    hash: str
    sentry_id: str
    title: str
    culprit: str
    type: str
    level: str
    status: str
    substatus: str
    count: int
    first_seen_at: datetime
    last_seen_at: datetime
    external_url: str | None
    assigned_to: str | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class SentryComment:
    comment_id: str
    sentry_issue_id: str
    project_slug: str | None
    author: str | None
    text: str
    at: datetime
    deleted: bool


@dataclass(frozen=True)
class FeedbackRow:
    """A user's feedback as read at ingest (store/models.py `Feedback`, less the project)."""

    event_id: str
    associated_event_id: str | None
    source: str  # "feedback" | "user_report"
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


@dataclass(frozen=True)
class AttachmentRow:
    """An attachment as read at ingest: scrubbed when it is text, then compressed."""

    event_id: str
    filename: str
    content_type: str
    attachment_type: str
    size: int  # before compression
    data: bytes  # zstd-compressed
    received_at: datetime


@dataclass
class IngestBatch:
    """Everything one request asks to store, for one project."""

    project_id: int
    events: list[NormalizedEvent] = field(default_factory=list)
    sessions: list[SessionCounts] = field(default_factory=list)  # pre-aggregated
    users: list[UserSeen] = field(default_factory=list)
    session_updates: list[SessionUpdate] = field(default_factory=list)  # one session each
    outcomes: list[Outcome] = field(default_factory=list)
    # Webhooks: the delivery itself, and what it says about issues and comments.
    delivery: Delivery | None = None
    issues: list[SentryIssue] = field(default_factory=list)
    comments: list[SentryComment] = field(default_factory=list)
    check_ins: list[CheckInItem] = field(default_factory=list)  # cron monitors' runs
    # Spans and log entries; and the events made of them (a span v2 segment is also a
    # transaction, an error or fatal log entry also an error), which journeys are built from.
    spans: list[SpanRecord] = field(default_factory=list)
    logs: list[LogRecord] = field(default_factory=list)
    derived: list[NormalizedEvent] = field(default_factory=list)
    feedback: list[FeedbackRow] = field(default_factory=list)
    attachments: list[AttachmentRow] = field(default_factory=list)
    # Attachment bytes the project may hold in all (SENTRAIL_MAX_PROJECT_ATTACHMENT_BYTES):
    # checked by the transaction that stores them (collector/persist_attachments.py).
    attachment_quota: int = 0

    def approximate_bytes(self) -> int:
        """Memory this batch holds while it waits: its stored payloads, and a little for the
        rest of each row."""
        size = sum(len(e.row["payload"]) + 1024 for e in [*self.events, *self.derived])
        size += sum(len(log.row["body"]) + 1024 for log in self.logs) + 1024 * len(self.spans)
        size += len(self.delivery.payload) if self.delivery else 0
        size += sum(len(a.data) + 512 for a in self.attachments)
        return size + 256 * (
            len(self.feedback)
            + len(self.sessions)
            + len(self.session_updates)
            + len(self.outcomes)
            + len(self.issues)
            + len(self.comments)
            + len(self.check_ins)
        )

    def is_empty(self) -> bool:
        return not (
            self.events
            or self.sessions
            or self.users
            or self.session_updates
            or self.outcomes
            or self.delivery
            or self.issues
            or self.comments
            or self.check_ins
            or self.spans
            or self.logs
            or self.derived
            or self.feedback
            or self.attachments
        )
