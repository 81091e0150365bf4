"""Time, always timezone-aware UTC (docs/decisions.md#8)."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def hour_of(at: datetime) -> datetime:
    """The start of the hour `at` falls in: the key of the hourly counts."""
    return at.replace(minute=0, second=0, microsecond=0)
