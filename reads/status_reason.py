"""Why a journey has its status, in one sentence (docs/decisions.md#12).

Derived at read time from what the correlator stored (the status, the failing service, the hop
table) and the journey's events: the same facts correlator/journeys.py judged by.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from rules.config import current_rules
from store.levels import is_error
from store.models import Event, Journey
from store.statuses import COMPLETED, FAILED, STALLED


def status_reason(journey: Journey, events: Sequence[Event]) -> str:
    stall_after = _stall_after(journey.flow)
    hops: Sequence[Mapping[str, Any]] = journey.hops or []
    if journey.status == FAILED:
        return _failed(journey, events)
    if journey.status == STALLED:
        missing = next((h for h in hops if h["status"] == "missing"), None)
        what = f"'{missing['name']}' at {missing['service']}" if missing else journey.failed_service
        return (
            f"nothing happened for more than {stall_after:g} s after "
            f"{journey.last_seen_at:%Y-%m-%d %H:%M:%S} UTC; the next expected hop, {what}, "
            "never came"
        )
    if not hops:
        if journey.status == COMPLETED:
            return (
                f"no expected path describes it (unknown shape); quiet for {stall_after:g} s "
                "without an error, so nothing expected is missing"
            )
        return f"no expected path describes it (unknown shape); active within {stall_after:g} s"
    reached = [h for h in hops if h["status"] == "ok"]
    if journey.status == COMPLETED:
        last = reached[-1] if reached else hops[-1]
        return f"its last expected hop, '{last['name']}' at {last['service']}, happened"
    waiting = next((h for h in hops if h["status"] == "pending"), None)
    next_hop = f"'{waiting['name']}' at {waiting['service']}" if waiting else "none"
    return (
        f"last activity {journey.last_seen_at:%Y-%m-%d %H:%M:%S} UTC, within {stall_after:g} s; "
        f"next expected hop: {next_hop}"
    )


def _failed(journey: Journey, events: Sequence[Event]) -> str:
    """The failing service is the root cause: the first error no other error caused."""
    errors = [
        e for e in events if is_error(e.type, e.level) and e.service == journey.failed_service
    ]
    if not errors:
        return f"an error in {journey.failed_service} (the first that no other error caused)"
    first = min(errors, key=lambda e: (e.timestamp, e.id))
    title = first.title if len(first.title) <= 120 else first.title[:119] + "…"
    return (
        f'an error in {journey.failed_service}, "{title}" (event {first.event_id[:8]}), '
        "the first that no other error caused"
    )


def _stall_after(flow: str) -> float:
    return current_rules().flow(flow).stall_after
