"""Ingest benchmark: durably stored events/s and acknowledgement latency at N connections.

    python -m bench.ingest --backend sqlite --events 30000 --concurrency 32 \
        [--command collector|serve] [--workers N]

Starts a real `sentrail collector` (or `serve`) on a fresh database, sends gzip'd error
envelopes as sentry-python would, then counts the rows in the database: only stored events
count.
"""

import asyncio
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bench import harness
from bench.http_load import run_load
from bench.payloads import gzipped_envelopes
from bench.server import running_server
from store.engine import Database
from store.models import JOURNEYS_STATE, CorrelatorState, Event


def correlator_lag(database: Database, timeout: float = 120.0) -> tuple[int, float]:
    """How far `serve`'s correlator was behind when the load ended (events), and how long it
    took to catch up (seconds)."""
    started = time.perf_counter()
    with database.engine.connect() as connection:
        newest = connection.scalar(select(func.max(Event.id))) or 0
        behind = None
        while time.perf_counter() - started < timeout:
            watermark = (
                connection.scalar(
                    select(CorrelatorState.watermark).where(CorrelatorState.name == JOURNEYS_STATE)
                )
                or 0
            )
            connection.rollback()  # a fresh snapshot for the next look
            if behind is None:
                behind = newest - watermark
            if watermark >= newest:
                break
            time.sleep(0.05)  # polling the correlator's progress, bounded by the timeout
    return behind or 0, time.perf_counter() - started


def main() -> None:
    parser = harness.parser(__doc__, command="collector")
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--synchronous",
        choices=["full", "normal"],
        default="full",
        help="SQLite's synchronous setting (SENTRAIL_SQLITE_SYNCHRONOUS)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = harness.fresh_database(args.backend, workdir)
        database, project_id, key = harness.with_project(url)
        bodies = gzipped_envelopes(args.events + 1000)
        warmup, measured = bodies[:1000], bodies[1000:]
        headers = {
            "X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7",
            "Content-Encoding": "gzip",
            "Content-Type": "application/x-sentry-envelope",
        }
        env = {"SENTRAIL_SQLITE_SYNCHRONOUS": args.synchronous}
        with running_server(
            url, workdir / "server.log", workers=args.workers, extra_env=env, command=args.command
        ) as server:
            host, port = server.url.removeprefix("http://").split(":")
            path = f"/api/{project_id}/envelope/"
            asyncio.run(run_load(host, int(port), path, warmup, headers, args.concurrency))
            cpu_before = harness.process_cpu_seconds(server.process.pid)
            client_before = time.process_time()
            result = asyncio.run(
                run_load(host, int(port), path, measured, headers, args.concurrency)
            )
            user, system = (
                after - before
                for after, before in zip(
                    harness.process_cpu_seconds(server.process.pid), cpu_before, strict=True
                )
            )
            server_cpu = user + system
            client_cpu = time.process_time() - client_before
            lag = correlator_lag(database) if args.command == "serve" else None
        writer_lines = harness.group_commits(workdir / "server.log")
        with database.sessions() as session:
            stored = session.scalar(select(func.count()).select_from(Event)) or 0
        database.dispose()

    acked_total = result.ok + 1000
    print(harness.machine())
    sync = f" (synchronous={args.synchronous})" if args.backend == "sqlite" else ""
    print(
        f"backend: {args.backend}{sync}, `sentrail {args.command}`, workers: {args.workers}, "
        f"connections: {args.concurrency}, events: {len(measured)} (+1000 warm-up)"
    )
    print(f"statuses: {dict(sorted(result.statuses.items()))}")
    print(
        f"acknowledged {acked_total}, stored {stored}: "
        f"{'all acknowledged events stored' if stored >= acked_total else 'LOST EVENTS'}"
    )
    print(f"durably stored events/s: {result.ok / result.elapsed:,.0f}")
    print(
        f"server CPU: {server_cpu / result.elapsed:.2f} cores busy "
        f"({system / max(server_cpu, 1e-9):.0%} in the kernel), "
        f"{server_cpu / max(1, result.ok) * 1e6:.0f} µs per event; "
        f"load generator: {client_cpu / result.elapsed:.2f} cores"
    )
    for line in writer_lines:
        print(f"group commit (whole run, one line per worker): {line}")
    if lag is not None:
        print(
            f"correlator: {lag[0]:,} events behind when the load ended, "
            f"caught up {lag[1]:.1f} s later"
        )
    print(f"ack latency {result.latency()}")


if __name__ == "__main__":
    main()
