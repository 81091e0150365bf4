"""What tells an open page that something new arrived."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from reads.events import newest_event_id
from store.models import CorrelatorState


def change_mark(session: Session) -> tuple[int, int]:
    """(correlator passes, newest event id): changes whenever events or journeys changed."""
    passes = session.scalar(select(CorrelatorState.passes)) or 0
    return passes, newest_event_id(session)
