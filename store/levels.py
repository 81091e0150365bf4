"""What counts as an error: an event (not a transaction) at level error or fatal. The collector
counts errors with it at ingest, the correlator judges journeys with it."""

ERROR_LEVELS = frozenset({"error", "fatal"})


def is_error(type: str, level: str) -> bool:
    return type != "transaction" and level in ERROR_LEVELS
