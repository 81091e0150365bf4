"""SDK timestamps are Unix seconds (int/float, sometimes as a string) or RFC 3339 strings.
They are normalised once, here, to timezone-aware UTC (docs/decisions.md#8)."""

import math
from datetime import UTC, datetime, timedelta

# Relay's clock-drift rules, simplified: a timestamp from the future beyond this is replaced
# by the time we received the event.
MAX_FUTURE = timedelta(minutes=1)
MIN_YEAR, MAX_YEAR = 1970, 9998


def parse_timestamp(value: object) -> datetime | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return _from_unix(float(value))
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    text = value.strip()
    try:
        return _from_unix(float(text))
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # Sentry treats a zone-less timestamp as UTC
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        return None
    return parsed.astimezone(UTC)


def _from_unix(seconds: float) -> datetime | None:
    if not math.isfinite(seconds) or not 0 <= seconds < 253_000_000_000:
        return None
    return datetime.fromtimestamp(seconds, UTC)


def event_time(value: object, received_at: datetime) -> datetime:
    parsed = parse_timestamp(value)
    if parsed is None or parsed > received_at + MAX_FUTURE:
        return received_at
    return parsed
