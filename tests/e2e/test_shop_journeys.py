"""The whole system: the ACME shop (seven processes, real Redis, real sentry-sdk, shipping on
OpenTelemetry over OTLP, one project and DSN per service) sends to a real `sentrail serve`; its
traffic generator's ground truth is checked against the journeys the correlator builds across
those projects, scenario after scenario."""

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bench.server import Server, running_server
from shop.faults import Faults
from shop.runner import Shop, free_port, running_shop
from shop.settings import SERVICES, ShopSettings
from shop.traffic import SCENARIOS, Scenario, Truth, run_traffic
from store.engine import Database
from store.models import CorrelationKey, CorrelatorState, Event, SessionCount
from store.payload import decompress
from store.settings import DatabaseSettings
from tests.conftest import ProjectKey, make_project
from tests.services import fresh_redis_url

RELEASE = "e2e-release-1"
# Shipping-outage last: the next scenario would lift the fault and ship what waited.
ORDER_OF_SCENARIOS = [
    Scenario.healthy,
    Scenario.bad_cards,
    Scenario.bad_release,
    Scenario.mixed,
    Scenario.shipping_outage,
]
STALL_AFTER = 4


@pytest.fixture
def projects(database_url: str) -> dict[str, ProjectKey]:
    """One project per service, as real teams have them: journeys must join across them."""
    database = Database(DatabaseSettings(database_url=database_url))
    made = {service: make_project(database, f"acme-{service}") for service in SERVICES}
    database.dispose()
    return made


@pytest.fixture
def system(
    database_url: str, tmp_path: Path, projects: dict[str, ProjectKey]
) -> Iterator[tuple[Server, Shop]]:
    env = {"SENTRAIL_STALL_AFTER": str(STALL_AFTER)}
    with running_server(database_url, tmp_path / "server.log", extra_env=env) as server:
        dsns = {service: server.dsn(p.id, p.key) for service, p in projects.items()}
        settings = ShopSettings(
            SENTRY_RELEASE=RELEASE,
            SENTRY_ENVIRONMENT="e2e",
            SENTRAIL_REDIS_URL=fresh_redis_url(),
            SHOP_DATA_DIR=tmp_path / "shop",
            SHOP_PORT=free_port_block(),
            SHOP_CLAIM_IDLE_MS=300,
        ).with_dsns(dsns)
        with running_shop(settings) as shop:
            yield server, shop


def free_port_block() -> int:
    """A port whose next six are free too (the shop's services take seven in a row)."""
    for _ in range(50):
        port = free_port()
        if port < 65000 and all(_port_free(port + i) for i in range(1, 7)):
            return port
    raise RuntimeError("no block of seven free ports")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def journeys_of(server: Server, truths: list[Truth], timeout: float = 60.0) -> dict[str, Any]:
    """Each order's journey once it agrees with the truth (or the last seen, at timeout)."""
    deadline = time.monotonic() + timeout
    journeys: dict[str, Any] = {}
    waiting = list(truths)
    while waiting and time.monotonic() < deadline:
        for truth in list(waiting):
            answer = httpx.get(f"{server.url}/api/v1/orders/{truth.order_id}", timeout=5)
            if answer.status_code != 200:
                continue
            journeys[truth.order_id] = journey = answer.json()
            if (journey["status"], journey["failed_service"]) == (
                truth.outcome,
                truth.failed_service,
            ):
                waiting.remove(truth)
        if waiting:
            time.sleep(0.2)  # polling the API until the correlator caught up, bounded
    return journeys


def check_logs(server: Server, orders: list[str], timeout: float = 30.0) -> None:
    """Each completed order shows its services' business-step log entries, keyed by the
    order id attribute (the SDKs send logs in batches, every few seconds: waited for,
    bounded); shipping's, sent over OTLP by OpenTelemetry, say the order was delivered."""
    wanted = {"frontend", "order", "payment", "shipping"}
    deadline = time.monotonic() + timeout
    for order in orders:
        while True:
            detail = httpx.get(f"{server.url}/api/v1/orders/{order}", timeout=5).json()
            found = {
                entry["service"]
                for entry in detail["logs"]
                if entry["attributes"].get("order_id") == order and order in entry["body"]
            }
            delivered = f"order {order} successfully delivered" in {
                entry["body"] for entry in detail["logs"] if entry["service"] == "shipping"
            }
            if (wanted <= found and delivered) or time.monotonic() > deadline:
                break
            time.sleep(0.2)  # polling until the batched log entries arrived, bounded
        assert wanted <= found, (order, found, [e["body"] for e in detail["logs"]])
        assert delivered, [e["body"] for e in detail["logs"]]
        assert {e["level"] for e in detail["logs"]} <= {"info", "warn"}, detail["logs"]


def projects_of(database_url: str, journey: dict[str, Any]) -> dict[str | None, set[int]]:
    """The projects the journey's events were sent to, by the service that sent them."""
    database = Database(DatabaseSettings(database_url=database_url))
    ids = [e["event_id"] for e in journey["events"]]
    with database.sessions() as session:
        rows = session.execute(
            select(Event.service, Event.project_id).where(Event.event_id.in_(ids))
        ).all()
    database.dispose()
    found: dict[str | None, set[int]] = {}
    for service, project_id in rows:
        found.setdefault(service, set()).add(project_id)
    return found


def check_projects(database_url: str, journey: dict[str, Any], projects: dict[str, int]) -> None:
    """One order's events come from several services' projects, each service's from its own:
    the journey joined them across projects."""
    by_service = projects_of(database_url, journey)
    astray = {s: ids for s, ids in by_service.items() if ids != {projects.get(s or "")}}
    assert not astray, f"events not in their service's project: {astray}"
    assert len(set().union(*by_service.values())) >= 4, by_service


def check_scenario(
    server: Server, shop: Shop, scenario: Scenario, database_url: str, projects: dict[str, int]
) -> list[str]:
    result = asyncio.run(run_traffic(shop.url, orders=12, scenario=scenario, concurrency=4, seed=7))
    assert len(result.truth) == 12, result.errors
    problems = []
    journeys = journeys_of(server, result.truth)
    for truth in result.truth:
        journey = journeys.get(truth.order_id, {})
        got = (journey.get("status"), journey.get("failed_service"))
        if got != (truth.outcome, truth.failed_service):
            problems.append(f"{scenario} {truth.order_id}: truth {truth}, journey {got}")
            continue
        assert truth.release == RELEASE and journey["releases"] == [RELEASE]
        check_projects(database_url, journey, projects)
        # One trace across every HTTP and queue hop of the order.
        assert len(journey["trace_ids"]) == 1, journey["trace_ids"]
        assert {e["trace_id"] for e in journey["events"]} == set(journey["trace_ids"])
        if truth.failed_service:
            assert truth.failed_service in journey["impacted_services"]
        messages = {e["title"] for e in journey["events"] if e["type"] != "transaction"}
        order = truth.order_id
        if truth.outcome == "completed":
            assert {
                f"validation successful for order [{order}]",
                f"shipment successfully requested for order [{order}]",
            } <= messages
            assert [h["status"] for h in journey["hops"]] == ["ok"] * 5
        if truth.outcome == "stalled":
            assert journey["missing_hops"] == [truth.failed_service]
        if truth.failed_service == "payment" and truth.outcome == "failed":
            assert any(m.startswith(("ValueError", "PaymentCrash")) for m in messages), messages
    check_logs(server, [t.order_id for t in result.truth if t.outcome == "completed"])
    return problems


def diagnose(database_url: str, server: Server, problems: list[str]) -> str:
    """What the database holds for the orders that did not match: stored or not?"""
    database = Database(DatabaseSettings(database_url=database_url))
    lines = [f"SDK drops reported: {httpx.get(f'{server.url}/api/v1/outcomes').json()}"]
    with database.sessions() as session:
        state = session.execute(
            select(CorrelatorState.watermark, CorrelatorState.gaps, CorrelatorState.passes)
        ).first()
        newest = session.scalar(select(func.max(Event.id)))
        lines.append(f"correlator state {state}, newest event id {newest}")
        for problem in problems:
            order = problem.split()[1].rstrip(":")
            rows = session.execute(
                select(CorrelationKey.event_row_id, Event.service, Event.type)
                .join(Event, Event.id == CorrelationKey.event_row_id)
                .where(CorrelationKey.value == order)
            ).all()
            lines.append(f"{order}: {len(rows)} keyed events stored: {rows[:20]}")
            # Every event on the order's traces, keyed or not, with what root-cause finding
            # reads: a failure put on the wrong service shows here why.
            traces = select(Event.trace_id).where(
                Event.id.in_([row.event_row_id for row in rows]), Event.trace_id.is_not(None)
            )
            on_traces = session.execute(
                select(
                    Event.id, Event.service, Event.type, Event.level, Event.timestamp,
                    Event.duration_ms, Event.trace_id, Event.span_id, Event.parent_span_id,
                )
                .where(Event.trace_id.in_(traces))
                .order_by(Event.timestamp)
            ).all()  # fmt: skip
            lines += [f"    {tuple(event)}" for event in on_traces[:40]]
    database.dispose()
    return "\n".join(lines)


def test_journeys_match_the_shop_ground_truth_in_every_scenario(
    system: tuple[Server, Shop], database_url: str, projects: dict[str, ProjectKey]
) -> None:
    server, shop = system
    project_ids = {service: project.id for service, project in projects.items()}
    problems: list[str] = []
    for scenario in ORDER_OF_SCENARIOS:
        problems += check_scenario(server, shop, scenario, database_url, project_ids)
    assert problems == [], diagnose(database_url, server, problems)
    # Card numbers never reach the backend unmasked, in any payload.
    database = Database(DatabaseSettings(database_url=database_url))
    with database.sessions() as session:
        payloads = [decompress(p) for p in session.scalars(select(Event.payload))]
    database.dispose()
    assert payloads
    assert not [p for p in payloads if b"4111111111111111" in p or b"4222222222222" in p]


GOOD_RELEASE, BAD_RELEASE = "e2e-good", "e2e-bad"
MAX_DELIVERIES = 3
# Per release, the faults of each phase: the bad release loses products (the bad-release
# scenario: the catalog crashes for them), then its payment processor crashes on every charge
# as well (deterministic, so that payment's crashes are always there to count).
PAYMENT_DOWN = "payment-down"
RELEASE_PHASES: dict[str, dict[str, Faults]] = {
    GOOD_RELEASE: {Scenario.healthy: SCENARIOS[Scenario.healthy]},
    BAD_RELEASE: {
        Scenario.bad_release: SCENARIOS[Scenario.bad_release],
        PAYMENT_DOWN: Faults(bad_release=True, payment_crash_share=1.0),
    },
}


async def traffic_under(url: str, faults: Faults) -> list[Truth]:
    async with httpx.AsyncClient(base_url=url) as client:
        (await client.put("/admin/faults", json=faults.model_dump())).raise_for_status()
    result = await run_traffic(url, orders=12, scenario=None, concurrency=4, seed=7)
    assert len(result.truth) == 12, result.errors
    return result.truth


def run_release(
    release: str, tmp_path: Path, dsns: dict[str, str], phases: dict[str, Faults]
) -> dict[str, list[Truth]]:
    """The shop deployed on `release` runs its phases, then stops: its services flush the SDK
    on shutdown, so every session they tracked has been sent."""
    settings = ShopSettings(
        SENTRY_RELEASE=release,
        SENTRY_ENVIRONMENT="e2e",
        SENTRAIL_REDIS_URL=fresh_redis_url(),
        SHOP_DATA_DIR=tmp_path / release,
        SHOP_PORT=free_port_block(),
        SHOP_CLAIM_IDLE_MS=300,
        SHOP_MAX_DELIVERIES=MAX_DELIVERIES,
    ).with_dsns(dsns)
    with running_shop(settings) as shop:
        return {name: asyncio.run(traffic_under(shop.url, f)) for name, f in phases.items()}


def crashed_by_project(database_url: str, release: str) -> dict[int, int]:
    database = Database(DatabaseSettings(database_url=database_url))
    with database.sessions() as session:
        rows = session.execute(
            select(SessionCount.project_id, func.sum(SessionCount.crashed))
            .where(SessionCount.release == release)
            .group_by(SessionCount.project_id)
        ).all()
    database.dispose()
    return {project: int(crashed) for project, crashed in rows if crashed}


def settled_health(server: Server, release: str, timeout: float = 30.0) -> dict[str, Any]:
    """The release's health once its session count stopped changing (the collector stores
    what the stopped shop sent a moment later)."""
    deadline = time.monotonic() + timeout
    seen: list[int] = []
    while True:
        answer = httpx.get(f"{server.url}/api/v1/releases/{release}", timeout=5)
        if answer.status_code == 200:
            seen.append(answer.json()["sessions"]["total"])
            if len(seen) >= 3 and seen[-1] == seen[-3] > 0:
                body: dict[str, Any] = answer.json()
                return body
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.5)  # polling until the sessions are stored, bounded


# One backend: the seven processes and two releases take a minute and a half, and how sessions
# are counted on each backend is covered by tests/collector/test_sessions.py and
# tests/e2e/test_release_health.py on both.
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_the_bad_release_crashes_and_is_less_crash_free_than_the_good_one(
    database_url: str, tmp_path: Path, projects: dict[str, ProjectKey]
) -> None:
    with running_server(database_url, tmp_path / "server.log") as server:
        dsns = {service: server.dsn(p.id, p.key) for service, p in projects.items()}
        truths = {
            release: run_release(release, tmp_path, dsns, phases)
            for release, phases in RELEASE_PHASES.items()
        }
        good = settled_health(server, GOOD_RELEASE)
        bad = settled_health(server, BAD_RELEASE)
    assert good["sessions"]["crashed"] == 0 and good["crash_free_sessions"] == 1.0
    assert bad["crash_free_sessions"] < 1.0
    assert bad["crash_free_sessions"] < good["crash_free_sessions"]
    # The crashes are the ones the shop's record explains, each in its service's project.
    bad_truth = truths[BAD_RELEASE]
    lost = [t for ts in bad_truth.values() for t in ts if t.failed_service == "catalog"]
    payment_crashes = [t for t in bad_truth[PAYMENT_DOWN] if t.failed_service == "payment"]
    assert lost and payment_crashes, bad_truth
    crashed = crashed_by_project(database_url, BAD_RELEASE)
    assert set(crashed) == {projects["catalog"].id, projects["payment"].id}, crashed
    # Each lost order crashed the catalog on its product page and again at checkout, and on
    # the page of each lost product it held (at most three).
    assert 2 * len(lost) <= crashed[projects["catalog"].id] <= 4 * len(lost)
    # A crashing payment crashes on every delivery until it is dead-lettered.
    assert crashed[projects["payment"].id] == MAX_DELIVERIES * len(payment_crashes)
    assert bad["sessions"]["crashed"] == sum(crashed.values())
    assert bad["sessions"]["errored"] >= len(lost)  # the order service's handled report
