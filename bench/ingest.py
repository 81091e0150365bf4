"""Ingest benchmark: durably stored events/s and acknowledgement latency at N connections.

    python -m bench.ingest --backend sqlite --events 30000 --concurrency 32 \
        [--command collector|serve] [--workers N]

Starts a real `sentrail collector` (or `serve`) on a fresh database, sends gzip'd error
envelopes as sentry-python would, then counts the rows in the database: only stored events
count.
"""

import argparse
import asyncio
import os
import platform
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy import func, select

from bench.http_load import run_load
from bench.payloads import gzipped_envelopes
from bench.server import running_server
from store import migrations
from store.engine import Database
from store.models import CorrelatorState, Event
from store.projects import create_project
from store.settings import DatabaseSettings

POSTGRES = os.environ.get("SENTRAIL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def fresh_database(backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}"
    name = f"sentrail_bench_{os.getpid()}"
    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
        connection.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return POSTGRES.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"


def process_tree(pid: int) -> list[int]:
    """A server process and its direct children (the uvicorn workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(int(child) for child in children)]


def process_cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU time of a process and its children (the uvicorn workers)."""
    user = system = 0.0
    for each in process_tree(pid):
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        user += int(fields[11]) / os.sysconf("SC_CLK_TCK")
        system += int(fields[12]) / os.sysconf("SC_CLK_TCK")
    return user, system


def group_commits(server_log: Path) -> list[str]:
    """What each worker's writer logged when it stopped: requests, commits, time writing."""
    return [
        line.split("writer stopped: ", 1)[1]
        for line in server_log.read_text().splitlines()
        if "writer stopped: " in line
    ]


def correlator_lag(database: Database, timeout: float = 120.0) -> tuple[int, float]:
    """How far `serve`'s correlator was behind when the load ended (events), and how long it
    took to catch up (seconds)."""
    started = time.perf_counter()
    with database.engine.connect() as connection:
        newest = connection.scalar(select(func.max(Event.id))) or 0
        behind = None
        while time.perf_counter() - started < timeout:
            watermark = connection.scalar(select(CorrelatorState.watermark)) or 0
            connection.rollback()  # a fresh snapshot for the next look
            if behind is None:
                behind = newest - watermark
            if watermark >= newest:
                break
            time.sleep(0.05)  # polling the correlator's progress, bounded by the timeout
    return behind or 0, time.perf_counter() - started


def add_server_options(parser: argparse.ArgumentParser, command: str) -> None:
    """Which server the bench starts, and with how many worker processes."""
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--command",
        choices=["serve", "collector"],
        default=command,
        help="collector: ingestion alone; serve: the correlator and dashboard beside it",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--concurrency", type=int, default=32)
    add_server_options(parser, command="collector")
    parser.add_argument(
        "--synchronous",
        choices=["full", "normal"],
        default="full",
        help="SQLite's synchronous setting (SENTRAIL_SQLITE_SYNCHRONOUS)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = fresh_database(args.backend, workdir)
        migrations.upgrade(url)
        database = Database(DatabaseSettings(database_url=url))
        with database.sessions.begin() as session:
            project = create_project(session=session, name="bench")
            project_id, key = project.id, project.public_key
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
            cpu_before = process_cpu_seconds(server.process.pid)
            client_before = time.process_time()
            result = asyncio.run(
                run_load(host, int(port), path, measured, headers, args.concurrency)
            )
            user, system = (
                after - before
                for after, before in zip(
                    process_cpu_seconds(server.process.pid), cpu_before, strict=True
                )
            )
            server_cpu = user + system
            client_cpu = time.process_time() - client_before
            lag = correlator_lag(database) if args.command == "serve" else None
        writer_lines = group_commits(workdir / "server.log")
        with database.sessions() as session:
            stored = session.scalar(select(func.count()).select_from(Event)) or 0
        database.dispose()

    acked_total = result.ok + 1000
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
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
    print(
        f"ack latency p50: {result.percentile(0.50) * 1000:.1f} ms, "
        f"p99: {result.percentile(0.99) * 1000:.1f} ms, "
        f"max: {max(result.latencies) * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
