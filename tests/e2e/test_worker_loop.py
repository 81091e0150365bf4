"""A real sentry-python worker that keeps its breadcrumbs across orders (no request scope), in
a subprocess, sending to a real `sentrail serve`: every event lands in exactly its own order's
journey, and the orders that did not fail are not failed (docs/decisions.md#11)."""

import json
import subprocess
import sys
from collections import defaultdict

from sqlalchemy import select

from bench.server import ROOT, Server
from correlator.worker import Correlator
from store.engine import Database
from store.models import Event, Journey, JourneyEvent
from store.payload import decompress
from tests.conftest import ProjectKey, make_project

ORDERS = 12


def test_a_worker_loop_puts_every_event_in_its_own_order(
    server: Server, database: Database
) -> None:
    project: ProjectKey = make_project(database, "worker")
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests/e2e/worker_loop_client.py"),
         server.dsn(project.id, project.key), str(ORDERS)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    orders = {o["order"]: o["failed"] for o in map(json.loads, done.stdout.splitlines())}
    assert len(orders) == ORDERS and sum(orders.values()) == ORDERS // 3
    Correlator(database).run_until_idle()

    with database.sessions() as session:
        events = {row.id: row for row in session.scalars(select(Event))}
        member_of: dict[int, set[str]] = defaultdict(set)
        for row_id, key in session.execute(
            select(JourneyEvent.event_row_id, Journey.key).join(
                Journey, Journey.id == JourneyEvent.journey_id
            )
        ):
            member_of[row_id].add(key)
        statuses = {
            key: status for key, status in session.execute(select(Journey.key, Journey.status))
        }
    # One transaction per order, an error per failing one and a bare error every other failure.
    assert len(events) == ORDERS + ORDERS // 3 + ORDERS // 6
    for row_id, event in events.items():
        truth = json.loads(decompress(event.payload))["contexts"]["truth"]["order"]
        assert member_of[row_id] == {truth}, (event.type, event.title)
    for order, failed in orders.items():
        assert (statuses[order] == "failed") is failed, order
