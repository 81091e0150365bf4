"""The journey timeline as drawing instructions: one lane per service, events and transactions
placed in time, the missing hop drawn where it should have been. The template turns them into
SVG (every text through Jinja's escaping)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from reads.schemas import LogSummary
from store.levels import is_error
from store.models import Event

WIDTH = 960
LABEL = 120
LANE = 34
PAD = 16


@dataclass
class Mark:
    x: float
    y: float
    width: float
    kind: str  # error | warning | info | transaction
    title: str
    event_id: str


@dataclass
class Lane:
    service: str
    y: float
    status: str  # ok | failed | missing | extra | pending


@dataclass
class Timeline:
    width: int
    height: int
    lanes: list[Lane] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    missing: list[Mark] = field(default_factory=list)
    logs: list[Mark] = field(default_factory=list)  # event_id holds the entry's id
    ticks: list[tuple[float, str]] = field(default_factory=list)


def _start(event: Event) -> datetime:
    if event.type == "transaction" and event.duration_ms:
        return event.timestamp - timedelta(milliseconds=event.duration_ms)
    return event.timestamp


def build(
    events: list[Event],
    hops: list[dict[str, Any]],
    failed_service: str | None = None,
    logs: Sequence[LogSummary] = (),
) -> Timeline:
    """`logs` (an order's entries) are drawn as small ticks on their service's lane."""
    services = list(dict.fromkeys(h["service"] for h in hops))
    seen = {e.service or "(unknown)" for e in events} | {g.service or "(unknown)" for g in logs}
    services += sorted(seen - set(services))
    status: dict[str, str] = {}
    for hop in hops:
        previous = status.get(hop["service"])
        if previous in ("failed", "missing"):
            continue
        status[hop["service"]] = {"not_reached": "pending", "skipped": "pending"}.get(
            hop["status"], hop["status"]
        )
    if failed_service:
        status[failed_service] = "failed" if status.get(failed_service) != "missing" else "missing"
    lanes = [
        Lane(s, PAD + i * LANE + LANE / 2, status.get(s, "extra")) for i, s in enumerate(services)
    ]
    y_of = {lane.service: lane.y for lane in lanes}
    timeline = Timeline(WIDTH, int(PAD * 2 + LANE * len(lanes) + 18), lanes)
    if not (events or logs):
        return timeline
    first = min([_start(e) for e in events] + [g.timestamp for g in logs])
    last = max([e.timestamp for e in events] + [g.timestamp for g in logs])
    span = max((last - first).total_seconds(), 0.001)
    usable = WIDTH - LABEL - 2 * PAD - 90  # room on the right for a missing hop

    def x(at: datetime) -> float:
        return LABEL + PAD + (at - first).total_seconds() / span * usable

    for event in events:
        lane_y = y_of[event.service or "(unknown)"]
        if event.type == "transaction":
            kind = "transaction"
        elif is_error(event.type, event.level):
            kind = "error"
        else:
            kind = "warning" if event.level == "warning" else "info"
        start = x(_start(event))
        timeline.marks.append(
            Mark(
                x=start,
                y=lane_y,
                width=max(2.0, x(event.timestamp) - start) if kind == "transaction" else 0,
                kind=kind,
                title=f"{event.timestamp:%H:%M:%S.%f}"[:-3] + f" {event.title}",
                event_id=event.event_id,
            )
        )
    for entry in logs:
        timeline.logs.append(
            Mark(x=x(entry.timestamp), y=y_of[entry.service or "(unknown)"], width=0,
                 kind=f"log-{entry.level}", title=f"{entry.timestamp:%H:%M:%S.%f}"[:-3]
                 + f" {entry.level}: {entry.body[:200]}", event_id=str(entry.id))
        )  # fmt: skip
    for hop in hops:
        if hop["status"] == "missing":
            timeline.missing.append(
                Mark(x=x(last) + 24, y=y_of[hop["service"]], width=60, kind="missing",
                     title=f"{hop['service']}: {hop['name']} never happened", event_id="")
            )  # fmt: skip
    for i in range(5):
        at = first + timedelta(seconds=span * i / 4)
        label = f"+{(at - first).total_seconds():.2f}s" if i else f"{first:%H:%M:%S}"
        timeline.ticks.append((x(at), label))
    return timeline


def interleave(events: list[Event], logs: Sequence[LogSummary]) -> list[Event | LogSummary]:
    """An order's events and log entries in one list, oldest first (events before entries at
    the same instant): the order page's event list shows what each service logged between."""
    merged: list[tuple[datetime, int, int, Event | LogSummary]] = [
        (e.timestamp, 0, i, e) for i, e in enumerate(events)
    ]
    merged += [(g.timestamp, 1, g.id, g) for g in logs]
    merged.sort(key=lambda item: item[:3])
    return [item[3] for item in merged]
