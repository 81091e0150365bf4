"""Query parameter types the read API and the pages share."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


def as_utc(value: datetime) -> datetime:
    """A time given without an offset is UTC, as Sentry reads one (docs/reference.md); the
    database compares aware times only."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


UtcTime = Annotated[datetime, AfterValidator(as_utc)]
