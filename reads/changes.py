"""What tells an open page that something new arrived."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reads.events import newest_event_id
from store.models import JOURNEYS_STATE, CorrelatorState, LogEntry


def change_mark(session: Session) -> tuple[int, int, int]:
    """(correlator passes, newest event id, newest log entry id): changes whenever events,
    journeys or log entries changed (an info entry is no event: the log tail needs its own)."""
    passes = (
        session.scalar(select(CorrelatorState.passes).where(CorrelatorState.name == JOURNEYS_STATE))
        or 0
    )
    newest_log = session.scalar(select(func.max(LogEntry.id))) or 0
    return passes, newest_event_id(session), newest_log
