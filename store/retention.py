"""Retention: events older than the configured age are deleted in small batches, each its own
short transaction, so ingestion never waits long behind the pruning."""

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from store.engine import Database
from store.models import (
    Alert,
    Attachment,
    AttachmentUsage,
    CheckIn,
    Event,
    Feedback,
    Journey,
    LogEntry,
    SessionState,
    Span,
    WebhookDelivery,
)

log = logging.getLogger(__name__)


@dataclass
class PruneResult:
    events: int = 0
    journeys: int = 0
    deliveries: int = 0
    session_states: int = 0
    check_ins: int = 0
    spans: int = 0
    logs: int = 0
    feedback: int = 0
    attachments: int = 0
    alerts: int = 0


def prune(database: Database, older_than: timedelta, batch: int = 2000) -> PruneResult:
    """Deletes what is older than `older_than`; keys and journey memberships go with their
    events, spans and log entries (ON DELETE CASCADE). Issues, hourly counts and session
    totals are aggregates and stay."""
    cutoff = datetime.now(UTC) - older_than
    result = PruneResult()
    for model, column, counter in (
        (Event, Event.timestamp, "events"),
        (Journey, Journey.last_seen_at, "journeys"),
        (WebhookDelivery, WebhookDelivery.received_at, "deliveries"),
        (SessionState, SessionState.updated_at, "session_states"),
        (CheckIn, CheckIn.received_at, "check_ins"),  # a monitor's runs; monitors stay
        (Span, Span.started_at, "spans"),
        (LogEntry, LogEntry.timestamp, "logs"),
        (Feedback, Feedback.received_at, "feedback"),
        # Resolved alerts, their notifications with them (ON DELETE CASCADE); firing ones stay.
        (Alert, Alert.resolved_at, "alerts"),
    ):
        while True:
            with database.writing() as connection, connection.begin():
                ids = list(
                    connection.scalars(
                        select(model.id).where(column < cutoff).order_by(model.id).limit(batch)
                    )
                )
                if ids:
                    connection.execute(delete(model).where(model.id.in_(ids)))
            setattr(result, counter, getattr(result, counter) + len(ids))
            if len(ids) < batch:
                break
    result.attachments = _prune_attachments(database, cutoff, batch)
    return result


def _prune_attachments(database: Database, cutoff: datetime, batch: int) -> int:
    """Attachments received before `cutoff`, their bytes given back to their project's
    quota (`attachment_usage`) in the same transaction."""
    pruned = 0
    while True:
        with database.writing() as connection, connection.begin():
            rows = connection.execute(
                select(Attachment.id, Attachment.project_id, Attachment.size)
                .where(Attachment.received_at < cutoff)
                .order_by(Attachment.id)
                .limit(batch)
            ).all()
            freed: dict[int, int] = defaultdict(int)
            for _, project_id, size in rows:
                freed[project_id] += size
            if rows:
                connection.execute(
                    delete(Attachment).where(Attachment.id.in_([r[0] for r in rows]))
                )
            for project_id, size in sorted(freed.items()):
                connection.execute(
                    update(AttachmentUsage)
                    .where(AttachmentUsage.project_id == project_id)
                    .values(bytes=AttachmentUsage.bytes - size)
                )
        pruned += len(rows)
        if len(rows) < batch:
            return pruned


class Pruner:
    """Prunes every `interval` seconds inside `sentrail serve`, when a retention is set."""

    def __init__(self, database: Database, days: float, interval: float = 3600) -> None:
        self.database = database
        self.older_than = timedelta(days=days)
        self.interval = interval
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="pruner", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                result = prune(self.database, self.older_than)
                if result.events or result.journeys or result.attachments or result.feedback:
                    log.info("pruned %s", result)
            except Exception:
                log.exception("pruning failed; trying again later")
            self.stop_event.wait(self.interval)
