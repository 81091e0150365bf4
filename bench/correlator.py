"""Correlator benchmark: journeys over a million events.

    python -m bench.correlator --backend sqlite --events 1000000

1. Loads EVENTS events shaped like the ACME shop's (about 12 per order, four releases, a mix of
   completed, failed and stalled orders) through the collector's own normalise-and-write path
   (no HTTP, to load quickly), then times a full rebuild (`sentrail correlate --rebuild`).
2. Starts a real `sentrail serve` on that database and times `/api/v1/orders/{id}`,
   `/api/v1/orders`, `/api/v1/services`, `/api/v1/releases` and `/api/v1/releases/{version}`.
3. Ingests new orders over HTTP at full speed and, meanwhile, sends marker orders: the delay
   from a marker's acknowledgement to its journey answering at `/api/v1/orders/{id}` is how
   soon journeys are visible while ingesting at full speed.
"""

import asyncio
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import func, select

from bench import harness
from bench.http_load import percentile, run_load
from bench.server import running_server
from collector.batch import IngestBatch
from collector.items import ItemReader
from collector.persist import write_batches
from collector.settings import CollectorSettings
from correlator.worker import Correlator
from rules.config import current_rules
from rules.extract import KeyExtractor
from store import migrations
from store.engine import Database
from store.models import Event, Journey, Project
from store.settings import DatabaseSettings

RELEASES = ("a1f3c2e", "b7d9e41", "c0ffee5", "d15ea5e")
OUTCOMES = ("completed",) * 8 + ("payment", "catalog", "stalled")


def order_events(
    order: str, release: str, start: datetime, rng: random.Random
) -> list[dict[str, Any]]:
    """The events one checkout makes in the shop (transactions, messages, errors)."""
    trace = uuid.uuid4().hex
    outcome = rng.choice(OUTCOMES)
    events: list[dict[str, Any]] = []

    def add(service: str, offset: float, **fields: Any) -> None:
        at = start + timedelta(seconds=offset)
        event: dict[str, Any] = {
            "event_id": uuid.uuid4().hex,
            "timestamp": at.timestamp(),
            "platform": "python",
            "level": "info",
            "server_name": service,
            "release": release,
            "environment": "production",
            "contexts": {"trace": {"trace_id": trace, "span_id": uuid.uuid4().hex[:16]}},
        }
        event.update(fields)
        events.append(event)

    def transaction(service: str, offset: float, name: str, keyed: bool = True) -> None:
        add(
            service,
            offset + 0.05,
            type="transaction",
            transaction=name,
            start_timestamp=(start + timedelta(seconds=offset)).timestamp(),
            tags={"order_id": order} if keyed else {},
            spans=[],
        )

    transaction("frontend", 0, "/order/add/{userid}")
    transaction("users", 0.01, "/verify-token", keyed=False)
    transaction("order", 0.02, "/order/add/{userid}")
    transaction("catalog", 0.03, "/products/{pid}", keyed=False)
    if outcome == "catalog":
        add(
            "catalog",
            0.04,
            level="error",
            exception={
                "values": [
                    {"type": "InventoryError", "value": "inventory record missing for product 7"}
                ]
            },
        )
        add(
            "order",
            0.06,
            level="error",
            tags={"order_id": order},
            message=f"catalog lookup failed for order [{order}]",
        )
        return events
    transaction("payment", 0.2, "payment: PaymentRequested")
    if outcome == "payment":
        add(
            "payment",
            0.21,
            level="error",
            tags={"order_id": order},
            exception={
                "values": [
                    {
                        "type": "ValueError",
                        "value": f"validation failed for order [{order}] : creditcard has expired",
                    }
                ]
            },
        )
        transaction("order", 0.3, "order: CreditCardValidated")
        return events
    add(
        "payment",
        0.21,
        tags={"order_id": order},
        message=f"validation successful for order [{order}]",
    )
    transaction("order", 0.3, "order: CreditCardValidated")
    add(
        "order",
        0.31,
        tags={"order_id": order},
        message=f"shipment successfully requested for order [{order}]",
    )
    if outcome == "stalled":
        return events
    transaction("shipping", 0.5, "shipping: ShipmentRequested")
    add("shipping", 0.51, tags={"order_id": order}, message=f"order {order} successfully delivered")
    transaction("order", 0.6, "order: ShipmentSent")
    return events  # fmt: skip


def load(
    database: Database, project_id: int, events: int, rng: random.Random
) -> tuple[int, list[str]]:
    """Writes about `events` events; returns how many and the order ids."""
    reader = ItemReader(CollectorSettings(), KeyExtractor(current_rules()))
    now = datetime.now(UTC)
    span = timedelta(days=2)
    orders: list[str] = []
    written = 0
    batch = IngestBatch(project_id)
    pending: list[IngestBatch] = []
    issues: dict[tuple[int, str], int] = {}
    started = time.perf_counter()
    while written < events:
        order = str(uuid.uuid4())
        orders.append(order)
        fraction = written / events
        release = RELEASES[min(len(RELEASES) - 1, int(fraction * len(RELEASES)))]
        start = now - span + span * fraction
        for event in order_events(order, release, start, rng):
            kind = "transaction" if event.get("type") == "transaction" else "event"
            batch = IngestBatch(project_id)
            batch.events.append(
                reader.normalize(
                    event, orjson.dumps(event), kind=kind, received_at=now, fallback_event_id=None
                )
            )
            pending.append(batch)
            written += 1
        if len(pending) >= 5000:
            issues |= _write(database, pending, issues)
            pending = []
            if written % 100_000 < 12:
                rate = written / (time.perf_counter() - started)
                print(f"  loaded {written:,} events ({rate:,.0f}/s)", flush=True)
    issues |= _write(database, pending, issues)
    return written, orders


def _write(
    database: Database, batches: list[IngestBatch], issues: dict[tuple[int, str], int]
) -> dict[tuple[int, str], int]:
    with database.writing() as connection, connection.begin():
        found = write_batches(connection, batches, issues)
    return found


def timed_gets(client: httpx.Client, paths: list[str]) -> list[float]:
    times = []
    for path in paths:
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code, response.text[:200])
    return times


def pct(values: list[float], p: float) -> float:
    """In milliseconds."""
    return percentile(values, p) * 1000


async def freshness(
    url: str, project_id: int, key: str, bodies: list[bytes], markers: int
) -> tuple[list[float], float, int]:
    """Full-speed ingest of `bodies`, with marker orders sent meanwhile; returns each marker's
    delay from acknowledgement to visible journey, the ingest rate and the events acked."""
    host, port = url.removeprefix("http://").split(":")
    headers = {
        "X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7",
        "Content-Type": "application/x-sentry-envelope",
    }
    path = f"/api/{project_id}/envelope/"
    load_task = asyncio.create_task(run_load(host, int(port), path, bodies, headers, 32))
    delays: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await asyncio.sleep(1.0)  # let the load reach full speed first
        for _ in range(markers):
            order = str(uuid.uuid4())
            event = {
                "event_id": uuid.uuid4().hex,
                "timestamp": datetime.now(UTC).timestamp(),
                "level": "info",
                "server_name": "frontend",
                "release": RELEASES[-1],
                "message": f"marker for order [{order}]",
                "tags": {"order_id": order},
            }
            answer = await client.post(path, content=_envelope(event), headers=headers)
            assert answer.status_code == 200, answer.text
            acked = time.perf_counter()
            # Polling the API is the measurement: nothing to wait on but the answer.
            while (await client.get(f"/api/v1/orders/{order}")).status_code != 200:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            delays.append(time.perf_counter() - acked)
            if load_task.done():
                break
    result = await load_task
    return delays, result.ok / result.elapsed, result.ok


def _envelope(event: dict[str, Any]) -> bytes:
    header = orjson.dumps({"event_id": event["event_id"]})
    item = orjson.dumps(event)
    return header + b"\n" + orjson.dumps({"type": "event", "length": len(item)}) + b"\n" + item


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--live-events", type=int, default=40_000)
    parser.add_argument("--keep", type=Path, help="Keep the SQLite database at this path.")
    parser.add_argument(
        "--reuse", action="store_true", help="With --keep: use the database already there."
    )
    args = parser.parse_args()
    rng = random.Random(11)
    print(harness.machine())
    with tempfile.TemporaryDirectory() as tmp:
        reuse = bool(args.keep and args.reuse and args.keep.exists())
        if args.keep:
            workdir, url = args.keep.parent, f"sqlite:///{args.keep}"
            migrations.upgrade(url)  # a kept database may be new, or from an older schema
        else:
            workdir = Path(tmp)
            url = harness.fresh_database(args.backend, workdir)
        started = time.perf_counter()
        if reuse:
            database = Database(DatabaseSettings(database_url=url))
            with database.sessions() as session:
                project = session.scalars(select(Project)).one()
                project_id, key = project.id, project.public_key
                orders = list(session.scalars(select(Journey.key)))
                written = session.scalar(select(func.count()).select_from(Event)) or 0
        else:
            database, project_id, key = harness.with_project(url)
            written, orders = load(database, project_id, args.events, rng)
        print(f"backend: {args.backend}; loaded {written:,} events, {len(orders):,} orders, "
              f"{len(RELEASES)} releases in {time.perf_counter() - started:.0f} s")  # fmt: skip

        if not reuse:  # a reused database holds its journeys already
            started = time.perf_counter()
            result = Correlator(database).rebuild()
            rebuild = time.perf_counter() - started
            print(f"full rebuild: {result.events:,} events in {rebuild:.1f} s "
                  f"({result.events / rebuild:,.0f} events/s)")  # fmt: skip
        database.dispose()

        with running_server(url, workdir / "server.log") as server:
            client = httpx.Client(base_url=server.url, timeout=30)
            sample = rng.sample(orders, 500)
            timed_gets(client, [f"/api/v1/orders/{o}" for o in sample[:20]])  # warm-up
            detail = timed_gets(client, [f"/api/v1/orders/{o}" for o in sample])
            print(
                f"/api/v1/orders/{{id}}: p50 {pct(detail, 0.5):.1f} ms, "
                f"p95 {pct(detail, 0.95):.1f} ms, max {max(detail) * 1000:.1f} ms (500 orders)"
            )
            for label, paths in (
                ("/api/v1/orders?status=failed", ["/api/v1/orders?status=failed"] * 20),
                (
                    "/api/v1/orders?service=catalog&release=…",
                    [f"/api/v1/orders?service=catalog&release={RELEASES[1]}"] * 20,
                ),
                ("/api/v1/services", ["/api/v1/services"] * 5),
                ("/api/v1/releases", ["/api/v1/releases"] * 5),
            ):
                times = timed_gets(client, paths)
                print(f"{label}: median {statistics.median(times) * 1000:.0f} ms")
            for version in RELEASES:
                times = timed_gets(client, [f"/api/v1/releases/{version}"] * 3)
                print(
                    f"/api/v1/releases/{version}: median {statistics.median(times) * 1000:.0f} ms"
                )
            failed = client.get("/api/v1/orders?status=failed&limit=20").json()["orders"]
            stalled = client.get("/api/v1/orders?status=stalled&limit=20").json()["orders"]
            journeys = [o["order_id"] for o in failed + stalled]
            trace = client.get(f"/api/v1/orders/{journeys[0]}").json()["trace_ids"][0]
            issue = client.get("/api/v1/issues?limit=1").json()["issues"][0]["id"]
            pages = {
                "/": ["/"] * 20,
                "/orders": ["/orders"] * 20,
                "/orders?status=failed&service=payment": ["/orders?status=failed&service=payment"]
                * 20,
                "/orders/{id}": [f"/orders/{o}" for o in journeys],
                "/traces/{id}": [f"/traces/{trace}"] * 20,
                "/services": ["/services"] * 20,
                "/releases": ["/releases"] * 20,
                "/releases/{version}": [f"/releases/{RELEASES[i % 4]}" for i in range(20)],
                "/issues/{id}": [f"/issues/{issue}"] * 20,
            }
            for label, paths in pages.items():
                timed_gets(client, paths[:1])  # warm
                times = timed_gets(client, (paths * 5)[:100])
                print(f"page {label}: p50 {pct(times, 0.5):.0f} ms, p95 {pct(times, 0.95):.0f} ms")
            live: list[bytes] = []
            while len(live) < args.live_events:
                for event in order_events(str(uuid.uuid4()), RELEASES[-1], datetime.now(UTC), rng):
                    live.append(_envelope(event))
            delays, rate, acked = asyncio.run(
                freshness(server.url, project_id, key, live[: args.live_events], 200)
            )
            print(
                f"while ingesting {acked:,} events at {rate:,.0f} events/s: journey visible "
                f"p50 {pct(delays, 0.5):.0f} ms, p95 {pct(delays, 0.95):.0f} ms, "
                f"max {max(delays) * 1000:.0f} ms after the ack ({len(delays)} markers)"
            )


if __name__ == "__main__":
    main()
