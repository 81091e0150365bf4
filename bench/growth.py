"""Growth benchmark: does the cost of ingesting and reading stay flat as the data grows?

    python -m bench.growth --backend sqlite --events 10000000 [--steps 1000000,5000000,10000000]

Measures at an empty database and again after loading it to each step. Loading is quick and
goes through the real write path in bulk: the events of the shop's orders (bench/correlator.py)
normalised and written by the collector's own code, then correlated by the correlator's own
passes, so each step's journeys, links and rollups are what a live system would hold. At each
size a real `sentrail serve` (the command the README's users run) is started and measured:

- ingest under the standard load: 32 connections, gzip'd error envelopes as sentry-python sends
  them, a fresh order every 10 events: durably stored events/s and the ack p99;
- how soon a journey is visible after the ack, while ingesting at full speed (marker orders);
- `GET /api/v1/orders/{id}` p95 over 200 stored orders, and the release report's median;
- the database's size per million events; and that every acknowledged event was stored.
"""

import asyncio
import random
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import func, select

from bench import harness
from bench.correlator import RELEASES, freshness, load, order_events, pct, timed_gets
from bench.http_load import run_load
from bench.payloads import envelope, gzipped_envelopes
from bench.server import running_server
from correlator.worker import Correlator
from store.engine import Database
from store.models import Event, Journey

STEPS = (1_000_000, 5_000_000, 10_000_000)
MARKERS = 50  # marker orders per journey-latency measure
SAMPLE = 200  # stored orders read per API measure


@dataclass
class Step:
    events: int
    size_mib: float
    ingest_rate: float
    ack_p99_ms: float
    journey_p50_ms: float
    journey_p95_ms: float
    order_p95_ms: float
    release_ms: float
    lost: int

    def row(self) -> str:
        per_million = self.size_mib / (self.events / 1e6) if self.events else 0.0
        return (
            f"| {self.events:,} | {self.ingest_rate:,.0f} | {self.ack_p99_ms:.0f} ms "
            f"| {self.journey_p50_ms:.0f} / {self.journey_p95_ms:.0f} ms "
            f"| {self.order_p95_ms:.1f} ms | {self.release_ms:.0f} ms "
            f"| {self.size_mib:,.0f} MiB ({per_million:,.0f} MiB per million) | {self.lost} |"
        )


def database_mib(url: str) -> float:
    """The database on disk: SQLite's file and its write-ahead log, or PostgreSQL's size."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        parts = [path, path.with_name(path.name + "-wal")]
        return sum(p.stat().st_size for p in parts if p.exists()) / 2**20
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(harness.POSTGRES, autocommit=True) as connection:
        row = connection.execute("SELECT pg_database_size(%s)", (name,)).fetchone()
    return float(row[0] if row else 0) / 2**20


def stored(database: Database) -> int:
    with database.sessions() as session:
        return session.scalar(select(func.count()).select_from(Event)) or 0


def some_orders(database: Database, rng: random.Random) -> list[str]:
    """Up to SAMPLE stored orders, picked by random journey ids (no scan of the table)."""
    with database.sessions() as session:
        top = session.scalar(select(func.max(Journey.id))) or 0
        ids = rng.sample(range(1, top + 1), min(top, SAMPLE * 2))
        return list(session.scalars(select(Journey.key).where(Journey.id.in_(ids))))[:SAMPLE]


def grow(database: Database, project_id: int, events: int, rng: random.Random) -> None:
    """Loads `events` more events and correlates them."""
    started = time.perf_counter()
    written, _ = load(database, project_id, events, rng)
    loaded = time.perf_counter() - started
    result = Correlator(database).run_until_idle()
    print(
        f"  loaded {written:,} events in {loaded:.0f} s, correlated {result.events:,} in "
        f"{time.perf_counter() - started - loaded:.0f} s",
        flush=True,
    )


def measure(
    database: Database, url: str, workdir: Path, project: tuple[int, str], seed: int
) -> tuple[float, float, list[float], list[float], float, int]:
    """Under a fresh `sentrail serve`: ingest rate and ack p99 of the standard load, journey
    latencies, order API times, the release report's median and the events acknowledged."""
    project_id, key = project
    bodies = gzipped_envelopes(30_000, seed=seed, release=RELEASES[-1], events_per_order=10)
    headers = {
        "X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7",
        "Content-Encoding": "gzip",
        "Content-Type": "application/x-sentry-envelope",
    }
    rng = random.Random(seed)
    live = [
        envelope(event)
        for _ in range(2_000)
        for event in order_events(str(uuid.uuid4()), RELEASES[-1], datetime.now(UTC), rng)
    ]
    with running_server(url, workdir / f"server-{seed}.log") as server:
        host, port = server.url.removeprefix("http://").split(":")
        path = f"/api/{project_id}/envelope/"
        asyncio.run(run_load(host, int(port), path, bodies[:2_000], headers, 32))  # warm-up
        load_result = asyncio.run(run_load(host, int(port), path, bodies[2_000:], headers, 32))
        delays, _, live_acked = asyncio.run(freshness(server.url, project_id, key, live, MARKERS))
        with httpx.Client(base_url=server.url, timeout=60) as client:
            orders = some_orders(database, rng)  # after the live load: never none
            timed_gets(client, [f"/api/v1/orders/{o}" for o in orders[:10]])  # warm-up
            detail = timed_gets(client, [f"/api/v1/orders/{o}" for o in orders])
            report = timed_gets(client, [f"/api/v1/releases/{RELEASES[-1]}"] * 3)
    acked = 2_000 + load_result.ok + live_acked + len(delays)
    return (
        load_result.ok / load_result.elapsed,
        load_result.percentile(0.99) * 1000,
        delays,
        detail,
        statistics.median(report) * 1000,
        acked,
    )


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--steps", default=",".join(str(s) for s in STEPS))
    args = parser.parse_args()
    steps = sorted({int(s) for s in args.steps.split(",") if 0 < int(s) <= args.events})
    rng = random.Random(17)
    print(harness.machine())
    print(f"backend: {args.backend}; `sentrail serve`; sizes: 0, {', '.join(map(str, steps))}")
    results: list[Step] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = harness.fresh_database(args.backend, workdir)
        database, project_id, key = harness.with_project(url)
        try:
            for size in [0, *steps]:
                before = stored(database)
                if size > before:
                    grow(database, project_id, size - before, rng)
                count, mib = stored(database), database_mib(url)
                rate, p99, delays, detail, report, acked = measure(
                    database, url, workdir, (project_id, key), len(results) + 1
                )
                lost = max(0, acked - (stored(database) - count))
                results.append(
                    Step(
                        count,
                        mib,
                        rate,
                        p99,
                        pct(delays, 0.5),
                        pct(delays, 0.95),
                        pct(detail, 0.95) if detail else 0.0,
                        report,
                        lost,
                    )
                )
                print(results[-1].row(), flush=True)
        finally:
            database.dispose()
            if args.backend == "postgresql":
                harness.drop_database(url)
    print()
    print(
        "| events stored | ingest events/s | ack p99 | journey visible p50 / p95 "
        "| order API p95 | release report | database size | acknowledged, not stored |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for step in results:
        print(step.row())


if __name__ == "__main__":
    main()
