"""A second system, not the ACME shop: other services (web, billing, fulfilment), another key
field (`booking_ref`), and a flow with no declared hops that learns its path."""

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from correlator.settings import CorrelatorSettings
from correlator.worker import Correlator
from reads.flows import list_flows
from rules.config import CorrelationRules, current_rules, load_rules
from store.engine import Database
from store.models import FlowPath, Journey, JourneyLabel
from tests.collector.envelopes import envelope_bytes, event
from tests.conftest import ProjectKey
from tests.correlator.shop_events import BASE, at

BOOKING_RULES = """
[[keys]]
name = "booking_ref"
tags = ["booking_ref"]

[[keys]]
name = "cancel_ref"
tags = ["cancel_ref"]

[[flows]]
name = "booking"
key = "booking_ref"
stall_after = 120
learn_min_journeys = 20

[[flows]]
name = "cancellation"
key = "cancel_ref"
stall_after = 60
hops = [{ service = "web", name = "asked" }, { service = "billing", name = "refunded" }]
"""
PATH = ["web", "billing", "fulfilment"]


@pytest.fixture
def booking_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CorrelationRules]:
    """The rules of the booking system, in force for the collector's key extraction too."""
    path = tmp_path / "bookings.toml"
    path.write_text(BOOKING_RULES)
    monkeypatch.setenv("SENTRAIL_CORRELATION_CONFIG", str(path))
    current_rules.cache_clear()
    yield load_rules(path)
    current_rules.cache_clear()


@pytest.fixture
def client(booking_rules: CorrelationRules, client: TestClient) -> TestClient:
    """The app, started once the booking rules are in force."""
    return client


class Bookings:
    """Sends events the way the booking system's services do."""

    def __init__(self, client: TestClient, project: ProjectKey) -> None:
        self.client = client
        self.project = project

    def send(self, *events: dict[str, Any]) -> None:
        for sent in events:
            response = self.client.post(
                f"/api/{self.project.id}/envelope/",
                content=envelope_bytes(sent),
                headers=self.project.auth,
            )
            assert response.status_code == 200, response.text

    def step(
        self, service: str, seconds: float, trace: str, tags: dict[str, str], error: bool = False
    ) -> None:
        """One unit of work of `service` (a transaction; an error event when `error`)."""
        self.send(
            event(
                type="event" if error else "transaction",
                transaction=f"{service} handler",
                server_name=service,
                level="error" if error else "info",
                start_timestamp=at(seconds),
                timestamp=at(seconds + 0.05),
                tags=tags,
                contexts={"trace": {"trace_id": trace, "span_id": uuid.uuid4().hex[:16]}},
                spans=[],
            )
        )

    def booking(self, services: list[str], t0: float = 0, error_at: str | None = None) -> str:
        """One booking through these services, one second apart; returns its reference."""
        ref, trace = f"BK-{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
        for i, service in enumerate(services):
            self.step(service, t0 + i, trace, {"booking_ref": ref}, error=service == error_at)
        return ref


@pytest.fixture
def bookings(client: TestClient, project: ProjectKey) -> Bookings:
    return Bookings(client, project)


def correlator(database: Database, rules: CorrelationRules, now: datetime) -> Correlator:
    worker = Correlator(database, rules, CorrelatorSettings(learn_interval=3600), clock=lambda: now)
    worker.run_until_idle()
    return worker


def journey(database: Database, ref: str) -> Journey:
    with database.sessions() as session:
        found = session.scalar(select(Journey).where(Journey.key == ref))
        assert found is not None, f"no journey for {ref}"
        return found


def impacted(database: Database) -> set[str]:
    with database.sessions() as session:
        return set(
            session.scalars(select(JourneyLabel.value).where(JourneyLabel.kind == "impacted"))
        )


def test_before_anything_is_learned_no_booking_stalls_and_no_service_is_invented(
    bookings: Bookings, booking_rules: CorrelationRules, database: Database
) -> None:
    half_done = bookings.booking(["web", "billing"])
    correlator(database, booking_rules, BASE + timedelta(seconds=30))
    assert journey(database, half_done).status == "in_progress"
    correlator(database, booking_rules, BASE + timedelta(hours=1))
    found = journey(database, half_done)
    assert (found.flow, found.status, found.failed_service) == ("booking", "completed", None)
    assert (found.missing_hops, found.hops, found.services) == ([], [], ["web", "billing"])
    assert impacted(database) == set()
    page = bookings.client.get(f"/orders/{half_done}").text
    assert 'flow: <a href="/orders?flow=booking">booking</a>' in page
    assert "unknown shape" in page


def test_learned_hops_appear_after_enough_completed_journeys(
    bookings: Bookings, booking_rules: CorrelationRules, database: Database
) -> None:
    for i in range(19):
        bookings.booking([*PATH, "audit"] if i % 5 == 0 else PATH, t0=i * 10)
    worker = correlator(database, booking_rules, BASE + timedelta(hours=1))
    worker.learn()
    with database.sessions() as session:
        flow, _ = list_flows(session, booking_rules)
    assert (flow.name, flow.key, flow.learned, flow.hops) == ("booking", "booking_ref", False, [])
    assert (flow.journeys, flow.learn_min_journeys) == (19, 20)
    bookings.booking(PATH, t0=200)
    worker = correlator(database, booking_rules, BASE + timedelta(hours=1))
    worker.learn()
    with database.sessions() as session:
        flow, cancellation = list_flows(session, booking_rules)
        [path] = session.scalars(select(FlowPath))  # the declared flow learns nothing
    assert flow.learned and [hop.service for hop in flow.hops] == PATH
    assert cancellation.declared and (cancellation.learned, cancellation.journeys) == (False, None)
    assert [hop.support for hop in flow.hops] == [1.0, 1.0, 1.0]
    assert path.support == {"web": 1.0, "billing": 1.0, "fulfilment": 1.0, "audit": 0.2}


def test_an_overdue_learned_hop_stalls_the_booking_at_that_service(
    bookings: Bookings, booking_rules: CorrelationRules, database: Database
) -> None:
    for i in range(20):
        bookings.booking(PATH, t0=i * 10)
    learned_at = BASE + timedelta(minutes=10)
    correlator(database, booking_rules, learned_at)  # completes them, then learns (first pass)
    stuck = bookings.booking(["web", "billing"], t0=1000)
    done = bookings.booking(PATH, t0=1000)
    broken = bookings.booking(PATH, t0=1000, error_at="billing")
    last = BASE + timedelta(seconds=1002)
    correlator(database, booking_rules, last + timedelta(seconds=60))
    assert journey(database, stuck).status == "in_progress"
    correlator(database, booking_rules, last + timedelta(seconds=121))
    found = journey(database, stuck)
    assert (found.status, found.failed_service, found.missing_hops) == (
        "stalled",
        "fulfilment",
        ["fulfilment"],
    )
    assert [(h["service"], h["status"]) for h in found.hops] == [
        ("web", "ok"),
        ("billing", "ok"),
        ("fulfilment", "missing"),
    ]
    assert journey(database, done).status == "completed"
    assert (journey(database, broken).status, journey(database, broken).failed_service) == (
        "failed",
        "billing",
    )
    assert impacted(database) == {"fulfilment", "billing"}


def test_the_api_shows_the_learned_path_and_each_bookings_flow(
    client: TestClient, bookings: Bookings, booking_rules: CorrelationRules, database: Database
) -> None:
    def flows() -> Any:
        response = client.get("/api/v1/flows")
        assert response.status_code == 200, response.text
        return response.json()["flows"]

    before, _ = flows()
    assert (before["name"], before["key"], before["declared"], before["learned"]) == (
        "booking",
        "booking_ref",
        False,
        False,
    )
    assert (before["hops"], before["learning"]) == ([], "0 of 20 journeys")
    assert "learning: 0 of 20 journeys" in client.get("/").text
    refs = [bookings.booking(PATH, t0=i * 10) for i in range(20)]
    correlator(database, booking_rules, BASE + timedelta(hours=1))
    after, _ = flows()
    assert after["learned"] and after["learning"] is None and after["journeys"] == 20
    assert [(h["service"], h["support"]) for h in after["hops"]] == [(s, 1.0) for s in PATH]
    overview = client.get("/").text
    assert "web (100.0%) → billing (100.0%) → fulfilment (100.0%)" in overview
    assert "learned from 20 journeys" in overview
    detail = client.get(f"/api/v1/orders/{refs[0]}").json()
    assert (detail["flow"], detail["status"], detail["services"]) == ("booking", "completed", PATH)
    listed = client.get("/api/v1/orders", params={"flow": "booking", "limit": 100}).json()
    assert {o["order_id"] for o in listed["orders"]} == set(refs)


def test_each_flow_makes_its_own_journeys_and_stalls_on_its_own_time(
    client: TestClient, bookings: Bookings, booking_rules: CorrelationRules, database: Database
) -> None:
    ref, trace = "BK-0042", uuid.uuid4().hex
    bookings.step("web", 0, trace, {"booking_ref": ref})
    # A cancellation of the same booking: the same value is a cancellation's key too, but
    # another flow's journey; its billing step carries no key and joins through the trace.
    cancel_trace = uuid.uuid4().hex
    bookings.step("web", 5, cancel_trace, {"cancel_ref": ref})
    bookings.step("billing", 6, uuid.uuid4().hex, {"booking_ref": "BK-other"})  # billing exists
    correlator(database, booking_rules, BASE + timedelta(seconds=70))
    with database.sessions() as session:
        found = {j.flow: j for j in session.scalars(select(Journey).where(Journey.key == ref))}
    assert set(found) == {"booking", "cancellation"}
    # 65 s of quiet: past the cancellation's 60 s, not the booking's 120 s.
    assert (found["cancellation"].status, found["cancellation"].failed_service) == (
        "stalled",
        "billing",
    )
    assert found["booking"].status == "in_progress"
    assert client.get(f"/api/v1/orders/{ref}").json()["flow"] == "booking"  # the first flow
    bookings.step("billing", 80, cancel_trace, {})
    correlator(database, booking_rules, BASE + timedelta(seconds=90))
    assert journey_of(database, "cancellation", ref).status == "completed"
    listed = client.get("/api/v1/orders", params={"flow": "cancellation"}).json()["orders"]
    assert [(o["order_id"], o["services"]) for o in listed] == [(ref, ["web", "billing"])]


def journey_of(database: Database, flow: str, ref: str) -> Journey:
    with database.sessions() as session:
        found = session.scalar(select(Journey).where(Journey.flow == flow, Journey.key == ref))
        assert found is not None
        return found


def test_passes_relearn_at_most_every_learn_interval(
    bookings: Bookings, booking_rules: CorrelationRules, database: Database
) -> None:
    now = [BASE + timedelta(hours=1)]
    worker = Correlator(
        database, booking_rules, CorrelatorSettings(learn_interval=60), clock=lambda: now[0]
    )

    def learned() -> tuple[int, list[str]]:
        with database.sessions() as session:
            [path] = session.scalars(select(FlowPath))
            return path.journeys, [hop["service"] for hop in path.hops]

    for i in range(19):
        bookings.booking(PATH, t0=i * 10)
    worker.run_until_idle()  # the first pass learns: 19 of 20, nothing yet
    assert learned() == (19, [])
    bookings.booking(PATH, t0=300)
    now[0] += timedelta(seconds=10)
    worker.run_until_idle()
    assert learned() == (19, [])  # 10 s after the last learning: not due
    bookings.booking(PATH, t0=310)
    now[0] += timedelta(seconds=60)
    worker.run_until_idle()
    assert learned() == (21, PATH)
