"""Every table sentrail has. Timestamps are UTC-aware and end in `_at`; names are singular."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.types import BigId, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Project(Base):
    """A Sentry project: one DSN (public key) that SDKs send to."""

    __tablename__ = "project"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    public_key: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime]


class Issue(Base):
    """Events grouped by their grouping hash (docs/protocol.md#grouping)."""

    __tablename__ = "issue"
    __table_args__ = (
        UniqueConstraint("project_id", "hash"),
        Index(None, "sentry_id"),
        Index(None, "first_release"),
        Index(None, "regressed_release"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    hash: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    culprit: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="unresolved")
    substatus: Mapped[str] = mapped_column(String(16), default="new")
    count: Mapped[int] = mapped_column(BigId, default=0)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    first_release: Mapped[str | None] = mapped_column(String(250))
    last_release: Mapped[str | None] = mapped_column(String(250))
    resolved_at: Mapped[datetime | None]
    regressed_at: Mapped[datetime | None]
    regressed_release: Mapped[str | None] = mapped_column(String(250))
    # Set for issues that sentry.io told us about (webhooks): its id, page and assignee.
    sentry_id: Mapped[str | None] = mapped_column(String(32))
    external_url: Mapped[str | None] = mapped_column(Text)
    assigned_to: Mapped[str | None] = mapped_column(String(200))


class Event(Base):
    """One error, message or transaction, normalised once at ingest, raw payload kept beside it."""

    __tablename__ = "event"
    __table_args__ = (
        # event_id first: the same index serves lookups by event_id alone.
        UniqueConstraint("event_id", "project_id"),
        Index(None, "trace_id"),
        Index(None, "release", "timestamp"),
        Index(None, "issue_id", "timestamp"),
        Index(None, "timestamp"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    event_id: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(16))
    timestamp: Mapped[datetime]
    received_at: Mapped[datetime]
    level: Mapped[str] = mapped_column(String(16))
    platform: Mapped[str | None] = mapped_column(String(64))
    logger: Mapped[str | None] = mapped_column(String(128))
    service: Mapped[str | None] = mapped_column(String(128))
    server_name: Mapped[str | None] = mapped_column(String(128))
    release: Mapped[str | None] = mapped_column(String(250))
    environment: Mapped[str | None] = mapped_column(String(64))
    transaction: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text)
    culprit: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    trace_id: Mapped[str | None] = mapped_column(String(32))
    span_id: Mapped[str | None] = mapped_column(String(16))
    parent_span_id: Mapped[str | None] = mapped_column(String(16))
    op: Mapped[str | None] = mapped_column(String(128))
    duration_ms: Mapped[float | None] = mapped_column(Float)
    handled: Mapped[bool | None] = mapped_column(Boolean)
    tags: Mapped[dict[str, Any]]
    issue_id: Mapped[int | None] = mapped_column(ForeignKey("issue.id"))
    source: Mapped[str] = mapped_column(String(16), default="sdk")
    # The event's page on sentry.io, for events that came by webhook.
    external_url: Mapped[str | None] = mapped_column(Text)
    # zstd-compressed JSON of the payload as received, so ingest rules can be re-run later.
    payload: Mapped[bytes] = mapped_column(LargeBinary)


class CorrelationKey(Base):
    """A business key (order ID, transaction ID, …) an event carries, extracted at ingest."""

    __tablename__ = "correlation_key"
    __table_args__ = (
        UniqueConstraint("event_row_id", "name", "value"),
        Index(None, "name", "value"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_row_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(200))
    # Where the event carries it (rules/extract.py Key): "tag:order_id", "breadcrumb:OrderID" …;
    # empty for keys stored before carriers were recorded.
    carrier: Mapped[str] = mapped_column(String(80), default="", server_default="")
    # Other values the event carried for this key, which lost to this one ("message=…").
    overruled: Mapped[str | None] = mapped_column(String(250))


class SessionCount(Base):
    """Release-health counters per release, environment and minute
    (docs/protocol.md#sessions-release-health)."""

    __tablename__ = "session_count"
    __table_args__ = (UniqueConstraint("project_id", "release", "environment", "started_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    release: Mapped[str] = mapped_column(String(250))
    environment: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    total: Mapped[int] = mapped_column(BigId, default=0)
    exited: Mapped[int] = mapped_column(BigId, default=0)
    errored: Mapped[int] = mapped_column(BigId, default=0)
    abnormal: Mapped[int] = mapped_column(BigId, default=0)
    crashed: Mapped[int] = mapped_column(BigId, default=0)
    # Sessions that ended `unhandled` (an uncaught error the app survived: not a crash).
    unhandled: Mapped[int] = mapped_column(BigId, default=0, server_default="0")


class SessionState(Base):
    """Where each individual session (`session` items, keyed by `sid`) stands.

    SDKs send a session's terminal status more than once (with the crash event, and again when
    the session ends): remembering it here makes every session count once.
    """

    __tablename__ = "session_state"
    __table_args__ = (UniqueConstraint("project_id", "sid"), Index(None, "updated_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    sid: Mapped[str] = mapped_column(String(64))
    started: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str | None] = mapped_column(String(16))
    # Counted as errored already (any update with errors > 0 or an error status).
    errored: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime]


class SessionUser(Base):
    """Distinct users (session `did`) per release, for crash-free users."""

    __tablename__ = "session_user"
    __table_args__ = (UniqueConstraint("project_id", "release", "environment", "distinct_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    release: Mapped[str] = mapped_column(String(250))
    environment: Mapped[str] = mapped_column(String(64))
    distinct_id: Mapped[str] = mapped_column(String(200))
    crashed: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen_at: Mapped[datetime]


class ItemOutcome(Base):
    """Counts of what arrived and was not stored as an event: skipped items, client reports."""

    __tablename__ = "item_outcome"
    __table_args__ = (UniqueConstraint("project_id", "hour_at", "outcome", "category", "reason"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    hour_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(128))
    quantity: Mapped[int] = mapped_column(BigId, default=0)


class WebhookDelivery(Base):
    """One delivery from sentry.io, kept raw; its Request-ID makes a re-delivery a no-op."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index(None, "received_at"), Index(None, "resource", "received_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    resource: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    # What it became: "event", "issue", "comment", "recorded" (kept raw only).
    outcome: Mapped[str] = mapped_column(String(16))
    installation_uuid: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # zstd-compressed raw body


class IssueComment(Base):
    """A comment made on a Sentry issue, keyed by Sentry's ids (the issue may arrive later)."""

    __tablename__ = "issue_comment"
    __table_args__ = (Index(None, "sentry_issue_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    comment_id: Mapped[str] = mapped_column(String(32), unique=True)
    sentry_issue_id: Mapped[str] = mapped_column(String(32))
    project_slug: Mapped[str | None] = mapped_column(String(100))
    author: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]


class Journey(Base):
    """One order's journey across services, materialised by the correlator
    (docs/decisions.md#journeys-acme-defaults). A journey is one value of one flow's key: the
    same value in two flows (a checkout and a refund of one order) makes two journeys."""

    __tablename__ = "journey"
    __table_args__ = (
        UniqueConstraint("scope", "flow", "key"),
        Index(None, "key"),
        Index(None, "status", "last_seen_at"),
        Index(None, "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The rules' flow name; journeys stored before flows existed were the "checkout" flow.
    flow: Mapped[str] = mapped_column(String(64), server_default="checkout")
    # The correlation scope of its events' projects (rules file [[scopes]]; "default": every
    # project no scope names). Journeys never join events across scopes.
    scope: Mapped[str] = mapped_column(String(64), server_default="default")
    key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    failed_service: Mapped[str | None] = mapped_column(String(128))
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    event_count: Mapped[int] = mapped_column(BigId, default=0)
    error_count: Mapped[int] = mapped_column(BigId, default=0)
    # Small lists and the hop table, as the API shows them.
    services: Mapped[list[str]] = mapped_column(JSON)
    impacted_services: Mapped[list[str]] = mapped_column(JSON)
    missing_hops: Mapped[list[str]] = mapped_column(JSON)
    releases: Mapped[list[str]] = mapped_column(JSON)
    environments: Mapped[list[str]] = mapped_column(JSON)
    trace_ids: Mapped[list[str]] = mapped_column(JSON)
    hops: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    updated_at: Mapped[datetime]


class JourneyEvent(Base):
    """An event that belongs to a journey: by its own key (`via` = "key") or through a link
    (a trace, a transaction ID, …) it shares with one that has it (`via` = the link's kind)."""

    __tablename__ = "journey_event"
    __table_args__ = (Index(None, "event_row_id"),)

    journey_id: Mapped[int] = mapped_column(
        ForeignKey("journey.id", ondelete="CASCADE"), primary_key=True
    )
    event_row_id: Mapped[int] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True
    )
    via: Mapped[str] = mapped_column(String(64))


class JourneyLink(Base):
    """A trace or secondary key seen on a keyed event of a journey: keyless events carrying it
    join that journey (when it leads to exactly one)."""

    __tablename__ = "journey_link"
    __table_args__ = (Index(None, "journey_id"),)

    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)
    journey_id: Mapped[int] = mapped_column(
        ForeignKey("journey.id", ondelete="CASCADE"), primary_key=True
    )


class JourneyLabel(Base):
    """What a journey can be filtered and counted by: its services, impacted services, releases
    and environments (kind = service | impacted | release | environment), with the journey's
    status and last sight copied beside them so that counts never join the journey table."""

    __tablename__ = "journey_label"
    __table_args__ = (
        Index(None, "journey_id"),
        Index(None, "kind", "value", "status", "journey_id"),
    )

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(250), primary_key=True)
    journey_id: Mapped[int] = mapped_column(
        ForeignKey("journey.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16))
    last_seen_at: Mapped[datetime]


class FlowPath(Base):
    """The path a flow without declared hops has learned from its completed journeys: the
    services in order (`hops`, each {service, name}), the share of journeys each service
    appeared in (`support`, of every service seen), and how many journeys that was. `hops` is
    empty while fewer journeys than the flow's `learn_min_journeys` were there to learn from."""

    __tablename__ = "flow_path"

    flow: Mapped[str] = mapped_column(String(64), primary_key=True)
    hops: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    support: Mapped[dict[str, Any]] = mapped_column(JSON)
    journeys: Mapped[int] = mapped_column(BigId, default=0)
    learned_at: Mapped[datetime]


# The rows of `correlator_state`, one per loop: read one by its name, never the table's first.
JOURNEYS_STATE = "journeys"  # the correlator's passes (correlator/worker.py)
ALERTS_STATE = "alerts"  # the alert evaluator's (correlator/alerts.py)


class CorrelatorState(Base):
    """How far the correlator has read the event table: every id up to `watermark` is done,
    except `gaps`, ids below it not yet committed when it passed (kept until their deadline).
    One row per loop that uses it (JOURNEYS_STATE, ALERTS_STATE)."""

    __tablename__ = "correlator_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    watermark: Mapped[int] = mapped_column(BigId, default=0)
    gaps: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Bumped by every pass: a pass commits only if no other pass committed since it read this.
    passes: Mapped[int] = mapped_column(BigId, default=0)
    updated_at: Mapped[datetime]


class EventRollup(Base):
    """Events and errors per hour, release, environment and service, counted at ingest (only
    the events really inserted count), so that service and release numbers never scan events.
    An absent release, environment or service is stored as ""."""

    __tablename__ = "event_rollup"
    __table_args__ = (
        UniqueConstraint("hour_at", "release", "environment", "service"),
        Index(None, "release"),
        Index(None, "service"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    hour_at: Mapped[datetime]
    release: Mapped[str] = mapped_column(String(250))
    environment: Mapped[str] = mapped_column(String(64))
    service: Mapped[str] = mapped_column(String(128))
    events: Mapped[int] = mapped_column(BigId, default=0)
    errors: Mapped[int] = mapped_column(BigId, default=0)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    last_error_at: Mapped[datetime | None]


class DashboardSession(Base):
    """A dashboard login. The cookie holds a random value; stored here are only its SHA-256
    (a copy of this table opens no session), a MAC of the dashboard token it was made with
    (a new token revokes every session) and when it ends (checked on every request)."""

    __tablename__ = "dashboard_session"
    __table_args__ = (Index(None, "expires_at"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_mac: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class Monitor(Base):
    """A cron monitor (docs/protocol.md#check-ins): made by the first check-in that carries a
    `monitor_config`, its schedule updated by every later one that carries one. `status` is
    `new` until a run ends, then `ok`, `error`, `missed` or `timeout`."""

    __tablename__ = "monitor"
    __table_args__ = (UniqueConstraint("project_id", "slug"), Index(None, "next_expected_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    slug: Mapped[str] = mapped_column(String(50))
    schedule_type: Mapped[str] = mapped_column(String(16))  # crontab | interval
    schedule_value: Mapped[str] = mapped_column(String(100))
    schedule_unit: Mapped[str | None] = mapped_column(String(8))
    checkin_margin: Mapped[int]  # minutes
    max_runtime: Mapped[int]  # minutes
    timezone: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    last_check_in_at: Mapped[datetime | None]
    next_expected_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CheckIn(Base):
    """One run of a monitor: the SDK's check-ins with the same `check_in_id` update it
    (in_progress, then ok or error); the monitor checker adds `missed` runs and turns
    in-progress runs past their max runtime into `timeout`."""

    __tablename__ = "check_in"
    __table_args__ = (
        UniqueConstraint("project_id", "check_in_id"),
        Index(None, "monitor_id", "id"),
        Index(None, "status", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitor.id", ondelete="CASCADE"))
    check_in_id: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    duration: Mapped[float | None] = mapped_column(Float)  # seconds, as the SDK measured
    release: Mapped[str | None] = mapped_column(String(250))
    environment: Mapped[str | None] = mapped_column(String(64))
    trace_id: Mapped[str | None] = mapped_column(String(32))
    # A missed run's scheduled time; null for runs that checked in.
    expected_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    received_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Span(Base):
    """One span of a trace: a span v2 item's entry, or a transaction (its own segment) and
    the children in its `spans` array. (project, trace, span) is unique, so a replay stores
    nothing twice. `attributes` is capped at ingest (collector/limits.py)."""

    __tablename__ = "span"
    __table_args__ = (
        UniqueConstraint("project_id", "trace_id", "span_id"),
        Index(None, "trace_id"),
        Index(None, "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    trace_id: Mapped[str] = mapped_column(String(32))
    span_id: Mapped[str] = mapped_column(String(16))
    parent_span_id: Mapped[str | None] = mapped_column(String(16))
    segment_id: Mapped[str | None] = mapped_column(String(16))
    is_segment: Mapped[bool] = mapped_column(Boolean, default=False)
    service: Mapped[str | None] = mapped_column(String(128))
    op: Mapped[str | None] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    duration_ms: Mapped[float] = mapped_column(Float)
    status: Mapped[str | None] = mapped_column(String(32))
    release: Mapped[str | None] = mapped_column(String(250))
    environment: Mapped[str | None] = mapped_column(String(64))
    attributes: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]


class SpanKey(Base):
    """A business key a span carries (attributes, name), extracted at ingest like
    `CorrelationKey`."""

    __tablename__ = "span_key"
    __table_args__ = (
        UniqueConstraint("span_row_id", "name", "value"),
        # value first: an order's spans are found by the order id alone.
        Index(None, "value", "name"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    span_row_id: Mapped[int] = mapped_column(ForeignKey("span.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(200))
    carrier: Mapped[str] = mapped_column(String(80), default="")
    overruled: Mapped[str | None] = mapped_column(String(250))


class LogEntry(Base):
    """One entry of a `log` item. `digest` (of the entry as received, scrubbed) is unique per
    project, so a replay stores nothing twice. `attributes` is capped at ingest."""

    __tablename__ = "log_entry"
    __table_args__ = (
        UniqueConstraint("project_id", "digest"),
        Index(None, "trace_id"),
        Index(None, "timestamp"),
        Index(None, "service", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    digest: Mapped[str] = mapped_column(String(32))
    timestamp: Mapped[datetime]
    level: Mapped[str] = mapped_column(String(16))
    severity_number: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    template: Mapped[str | None] = mapped_column(Text)
    parameters: Mapped[list[Any]] = mapped_column(JSON)
    trace_id: Mapped[str | None] = mapped_column(String(32))
    span_id: Mapped[str | None] = mapped_column(String(16))
    service: Mapped[str | None] = mapped_column(String(128))
    release: Mapped[str | None] = mapped_column(String(250))
    environment: Mapped[str | None] = mapped_column(String(64))
    attributes: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]


class LogKey(Base):
    """A business key a log entry carries (attributes, body), extracted at ingest like
    `CorrelationKey`."""

    __tablename__ = "log_key"
    __table_args__ = (
        UniqueConstraint("log_row_id", "name", "value"),
        Index(None, "value", "name"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    log_row_id: Mapped[int] = mapped_column(ForeignKey("log_entry.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(200))
    carrier: Mapped[str] = mapped_column(String(80), default="")
    overruled: Mapped[str | None] = mapped_column(String(250))


class Feedback(Base):
    """What a user said (a `feedback` item, or an older `user_report`), linked to the event it
    is about (`associated_event_id`), its trace and, when it carries the journey key itself,
    its order (`order_id`); the order is otherwise found at read time through the associated
    event's or the trace's journey (reads/feedback.py)."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("project_id", "event_id"),
        Index(None, "associated_event_id"),
        Index(None, "trace_id"),
        Index(None, "order_id"),
        Index(None, "release"),
        Index(None, "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    # The feedback's own id; for a `user_report`, the id of the event it is about.
    event_id: Mapped[str] = mapped_column(String(32))
    associated_event_id: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))  # "feedback" | "user_report"
    trace_id: Mapped[str | None] = mapped_column(String(32))
    order_id: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    release: Mapped[str | None] = mapped_column(String(250))
    environment: Mapped[str | None] = mapped_column(String(64))
    timestamp: Mapped[datetime]
    received_at: Mapped[datetime]


class Attachment(Base):
    """A file sent with an event (`attachment` items), zstd-compressed, stored once per
    (event, filename): a replayed envelope stores nothing twice."""

    __tablename__ = "attachment"
    __table_args__ = (
        # event_id first: the same index serves lookups by event_id alone.
        UniqueConstraint("event_id", "project_id", "filename"),
        Index(None, "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    event_id: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    attachment_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigId)  # bytes as stored, before compression
    data: Mapped[bytes] = mapped_column(LargeBinary)  # zstd-compressed
    received_at: Mapped[datetime]


class AttachmentUsage(Base):
    """Attachment bytes stored per project, kept beside the rows so that the per-project cap
    (SENTRAIL_MAX_PROJECT_ATTACHMENT_BYTES) is checked without summing the attachment table."""

    __tablename__ = "attachment_usage"

    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), primary_key=True)
    bytes: Mapped[int] = mapped_column(BigId, default=0)


class Alert(Base):
    """One firing of an alert rule for one group (docs/reference.md#alerts): opened when the
    rule's condition holds for the group, resolved when it clears. While open, the same
    condition fires nothing new (deduplicated per rule and group)."""

    __tablename__ = "alert"
    __table_args__ = (Index(None, "rule", "group_key", "status"), Index(None, "fired_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rule: Mapped[str] = mapped_column(String(64))
    condition: Mapped[str] = mapped_column(String(32))
    # What the rule groups by, e.g. "flow=checkout service=shipping" or "release=2.1".
    group_key: Mapped[str] = mapped_column(String(250))
    status: Mapped[str] = mapped_column(String(16))  # firing | resolved
    summary: Mapped[str] = mapped_column(Text)
    value: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    # The dashboard page that shows it.
    url: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]]
    fired_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class AlertDelivery(Base):
    """One notification of an alert (fired or resolved) to one target: an outbox row the
    delivery thread sends, retries with backoff, and dead-letters after the last attempt."""

    __tablename__ = "alert_delivery"
    __table_args__ = (Index(None, "status", "next_attempt_at"), Index(None, "alert_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id", ondelete="CASCADE"))
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)
    notice: Mapped[str] = mapped_column(String(16))  # fired | resolved
    target: Mapped[str] = mapped_column(String(64))
    target_kind: Mapped[str] = mapped_column(String(16))  # webhook | slack | email
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The body sent on every attempt (the same bytes, so a receiver can deduplicate).
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
