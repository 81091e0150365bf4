"""What each flow's journeys are judged by: its declared hops, or the path it has learned.

A flow without declared hops learns its usual path from its completed journeys: the services
that appear in at least `learn_support` of them, in the order they usually come (median
position of first appearance). Until `learn_min_journeys` completed journeys are there to learn
from, the flow has no path, and its journeys are judged as of unknown shape (never stalled).
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Any

from sqlalchemy import Connection, select

from correlator.journeys import Expectation
from rules.config import FlowRule, Hop
from store.models import EventRollup, FlowPath, Journey
from store.statuses import COMPLETED
from store.upsert import insert_for

# The completed journeys a path is learned from: the most recent ones, so that the path follows
# the system as it changes and learning stays one small read.
LEARN_WINDOW = 500


@dataclass(frozen=True, slots=True)
class LearnedPath:
    """A flow's learned path as stored in `flow_path`; `hops` is empty until learned."""

    flow: str
    hops: list[Hop]
    support: dict[str, float]
    journeys: int
    learned_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Judged:
    """The hops and stall time a flow's journeys are judged by (an `Expectation`)."""

    hops: Sequence[Hop] = field(default_factory=list)
    stall_after: float = 300


def learn(flow: FlowRule, journeys: Sequence[Sequence[str]], now: datetime) -> LearnedPath:
    """The usual path of these journeys (each the services it touched, in order of first
    appearance): a service belongs to it when it appears in at least `learn_support` of them;
    the flow's entry service comes first, the others by their median position."""
    support, positions = _support(journeys)
    if len(journeys) < flow.learn_min_journeys:
        return LearnedPath(flow.name, [], support, len(journeys), now)
    path = [service for service, share in support.items() if share >= flow.learn_support]
    path.sort(key=lambda s: (s != flow.entry, median(positions[s]), -support[s], s))
    hops = [Hop(service=service, name=service) for service in path]
    return LearnedPath(flow.name, hops, support, len(journeys), now)


def _support(
    journeys: Sequence[Sequence[str]],
) -> tuple[dict[str, float], dict[str, list[int]]]:
    appearances: Counter[str] = Counter()
    positions: dict[str, list[int]] = defaultdict(list)
    for services in journeys:
        for position, service in enumerate(dict.fromkeys(services)):
            appearances[service] += 1
            positions[service].append(position)
    total = len(journeys) or 1
    support = {service: round(count / total, 4) for service, count in appearances.most_common()}
    return support, positions


def relearn(connection: Connection, flows: Iterable[FlowRule], now: datetime) -> None:
    """Learns the path of every flow without declared hops again and stores it."""
    rows = []
    for flow in flows:
        if not flow.learns:
            continue
        services = connection.scalars(
            select(Journey.services)
            .where(Journey.flow == flow.name, Journey.status == COMPLETED)
            .order_by(Journey.last_seen_at.desc())
            .limit(LEARN_WINDOW)
        )
        path = learn(flow, list(services), now)
        rows.append(
            {
                "flow": path.flow,
                "hops": [hop.model_dump() for hop in path.hops],
                "support": path.support,
                "journeys": path.journeys,
                "learned_at": now,
            }
        )
    if rows:
        statement = insert_for(connection, FlowPath.__table__)  # type: ignore[arg-type]
        statement = statement.on_conflict_do_update(
            index_elements=["flow"],
            set_={name: statement.excluded[name] for name in ("hops", "support", "journeys",
                                                             "learned_at")},
        )  # fmt: skip
        connection.execute(statement, rows)


def learned_paths(connection: Connection) -> dict[str, LearnedPath]:
    """Every stored path, by flow (one row per flow: a small read)."""
    return {
        row.flow: _path_of(row)
        for row in connection.execute(
            select(
                FlowPath.flow,
                FlowPath.hops,
                FlowPath.support,
                FlowPath.journeys,
                FlowPath.learned_at,
            )
        )
    }


def _path_of(row: Any) -> LearnedPath:
    return LearnedPath(
        flow=row.flow,
        hops=[Hop.model_validate(hop) for hop in row.hops],
        support=dict(row.support),
        journeys=row.journeys,
        learned_at=row.learned_at,
    )


def known_services(connection: Connection) -> frozenset[str]:
    """Every service that has sent an event (from the hourly counts: a small table)."""
    return frozenset(
        service for service in connection.scalars(select(EventRollup.service).distinct()) if service
    )


def expectation(flow: FlowRule, paths: Mapping[str, LearnedPath]) -> Expectation:
    """What the flow's journeys are judged by: declared hops, else the learned path (none yet:
    no hops, so every journey of the flow is of unknown shape)."""
    if not flow.learns:
        return flow
    path = paths.get(flow.name)
    return Judged(hops=path.hops if path else [], stall_after=flow.stall_after)
