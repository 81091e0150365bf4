"""The correlator on systems nobody here wrote: generated from a seed (tests/correlator/
generated_systems.py), sent through the real ingest path, measured against the truth of every
event. Precision and recall of event-to-order membership must be exactly 1.0, and no order
that completed or failed may ever be called stalled."""

from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from correlator.worker import Correlator
from rules.config import current_rules, load_rules
from store.engine import Database
from store.models import Event, Journey, JourneyEvent
from tests.collector.envelopes import envelope_bytes
from tests.conftest import ProjectKey
from tests.correlator.generated_systems import STALL_AFTER, GeneratedSystem
from tests.correlator.shop_events import BASE

SEEDS = list(range(1, 11))


@pytest.fixture(params=SEEDS)
def system(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GeneratedSystem]:
    """The system, with its rules in force for the collector the test starts after this."""
    generated = GeneratedSystem(seed=request.param, base=BASE)
    path = tmp_path / "rules.toml"
    path.write_text(generated.rules_toml())
    monkeypatch.setenv("SENTRAIL_CORRELATION_CONFIG", str(path))
    current_rules.cache_clear()
    yield generated
    current_rules.cache_clear()


def test_every_event_joins_exactly_its_own_order(
    system: GeneratedSystem, client: TestClient, project: ProjectKey, database: Database
) -> None:
    orders, sent = system.traffic(orders=30)
    for item in sent:
        response = client.post(
            f"/api/{project.id}/envelope/",
            content=envelope_bytes(item.payload),
            headers=project.auth,
        )
        assert response.status_code == 200, response.text
    rules = current_rules()
    quiet = max(order.last_at for order in orders) + timedelta(seconds=60)
    Correlator(database, rules=rules, clock=lambda: quiet).run_until_idle()

    truth = {item.payload["event_id"]: item.order for item in sent}
    joined = _memberships(database)
    assert set(joined) <= set(truth)
    wrong = {e: (joined[e], truth[e]) for e in joined if joined[e] != {truth[e]}}
    missed = {e: truth[e] for e in truth if truth[e] is not None and e not in joined}
    carriers = dict(zip(system.services, system.carriers, strict=True))
    assert not wrong, f"events in the wrong order ({carriers}): {wrong}"
    assert not missed, f"events left out of their order ({carriers}): {missed}"

    statuses = _statuses(database)
    for order in orders:
        expected = "failed" if order.outcome == "failed" else "in_progress"
        if order.outcome == "completed":
            expected = "completed"
        assert statuses[order.id][0] == expected, (order, statuses[order.id], carriers)

    # Long after the traffic: only the orders that stopped short stall, at the next service.
    late = quiet + timedelta(seconds=STALL_AFTER + 1)
    Correlator(database, rules=rules, clock=lambda: late).run_until_idle()
    statuses = _statuses(database)
    for order in orders:
        if order.outcome == "cut":
            assert statuses[order.id] == ("stalled", system.services[order.stop]), order
        elif order.outcome == "failed":
            assert statuses[order.id] == ("failed", system.services[order.stop]), order
        else:
            assert statuses[order.id] == ("completed", None), order


def test_the_generated_rules_are_valid_rules(system: GeneratedSystem, tmp_path: Path) -> None:
    path = tmp_path / "again.toml"
    path.write_text(system.rules_toml())
    rules = load_rules(path)
    assert [hop.service for hop in rules.journey.hops] == system.services


def _memberships(database: Database) -> dict[str, set[str | None]]:
    joined: dict[str, set[str | None]] = defaultdict(set)
    with database.sessions() as session:
        for event_id, key in session.execute(
            select(Event.event_id, Journey.key)
            .join(JourneyEvent, JourneyEvent.event_row_id == Event.id)
            .join(Journey, Journey.id == JourneyEvent.journey_id)
        ):
            joined[event_id].add(key)
    return joined


def _statuses(database: Database) -> dict[str, tuple[str, str | None]]:
    with database.sessions() as session:
        return {
            key: (status, failed)
            for key, status, failed in session.execute(
                select(Journey.key, Journey.status, Journey.failed_service)
            )
        }
