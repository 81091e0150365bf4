"""Spans and logs benchmark: ingest throughput, and the trace and log reads over a large table.

    python -m bench.telemetry ingest --kind span|log [--backend sqlite|postgresql] \
        [--envelopes 2000] [--concurrency 32] [--command collector|serve] [--workers N]
    python -m bench.telemetry reads [--logs 10000000] [--backend sqlite|postgresql] \
        [--keep FILE]

ingest: a real `sentrail collector` (or `serve`) on a fresh database; pre-built gzip'd
envelopes (bench/telemetry_payloads.py: 50 spans of one segment, or 100 log entries of ten
orders) sent over keep-alive connections (bench/http_load.py) after a warm-up; then the rows in
`span` / `log_entry` are counted: only stored rows count, and every acknowledged entry must be
among them.

reads: bulk-loads LOGS log entries, ten per order, into `log_entry` and `log_key` in the shape
the writer stores them: the entries are built by bench/telemetry_payloads.py and read by the
collector's own `read_log_items` (so row columns, JSON texts, template and parameters, and the
keys with their carriers are the writer's), once per template order; every other order is that
template with its order id, trace id, span ids and times put in, a digest of its own, and ids
given here (`executemany` in chunks of 20,000, on the app's own engine and pragmas; the
secondary indexes are dropped for the load and made again after it, as a restore does). Each
order also gets a minimal `journey` row (key, status, its trace), as the correlator would make,
so that `logs?order_id=` takes its real path (the key's log rows or the journey's traces). Error
entries' derived events are not made (no read timed here looks at them). Then one trace of
2,000 spans (40 segments of 50 spans over the shop's services, each segment a child of the
previous one's call) and 100 log entries on it go through the collector's normalise-and-write
path (`read_span_items`, `read_log_items`, `write_batches`). A `sentrail dashboard` with a
dashboard token then answers the timed requests (the API with the Bearer token, pages with a
login session).
"""

import argparse
import asyncio
import hashlib
import random
import secrets
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import Table, func, select

from bench import harness
from bench.http_load import LoadResult, percentile, run_load
from bench.server import running_server
from bench.telemetry_payloads import log_envelopes, order_logs, segment_spans, span_envelopes
from collector.batch import IngestBatch
from collector.logs import read_log_items
from collector.persist import write_batches
from collector.spans import read_span_items
from dashboard.auth import COOKIE, start_session
from rules.config import current_rules
from rules.extract import KeyExtractor
from store import migrations
from store.engine import Database
from store.models import ItemOutcome, Journey, LogEntry, LogKey, Span, SpanKey
from store.settings import DatabaseSettings

PER_ENVELOPE = {"span": 50, "log": 100}
WARMUP = 100  # envelopes
CHUNK = 20_000  # rows per executemany
TEMPLATES = 50  # distinct template orders
PLACEHOLDER_ORDER = "0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f"
PLACEHOLDER_TRACE = "f0" * 16
TRACE_SEGMENTS = 40  # of 50 spans: 2,000
TOKEN = secrets.token_urlsafe(24)


# -- ingest ---------------------------------------------------------------------------------


def ingest(args: argparse.Namespace) -> None:
    per = PER_ENVELOPE[args.kind]
    build = span_envelopes if args.kind == "span" else log_envelopes
    bodies = build(args.envelopes + WARMUP, time.time() - 60)
    warmup, measured = bodies[:WARMUP], bodies[WARMUP:]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = harness.fresh_database(args.backend, workdir)
        database, project_id, key = harness.with_project(url)
        headers = {
            "X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7",
            "Content-Encoding": "gzip",
            "Content-Type": "application/x-sentry-envelope",
        }
        with running_server(
            url, workdir / "server.log", workers=args.workers, command=args.command
        ) as server:
            host, port = server.url.removeprefix("http://").split(":")
            path = f"/api/{project_id}/envelope/"
            first = asyncio.run(run_load(host, int(port), path, warmup, headers, args.concurrency))
            cpu_before = sum(harness.process_cpu_seconds(server.process.pid))
            result = asyncio.run(
                run_load(host, int(port), path, measured, headers, args.concurrency)
            )
            server_cpu = sum(harness.process_cpu_seconds(server.process.pid)) - cpu_before
        writer_lines = harness.group_commits(workdir / "server.log")
        stored, keys, outcomes = stored_rows(database, args.kind)
        database.dispose()
        harness.drop_database(url)
    acked = (first.ok + result.ok) * per
    report_ingest(args, result, acked, stored, keys, server_cpu, first, len(measured[0]))
    print(f"outcomes other than accepted: {'; '.join(outcomes) or 'none'}")
    for line in writer_lines:
        print(f"group commit (whole run, one line per worker): {line}")


def stored_rows(database: Database, kind: str) -> tuple[int, int, list[str]]:
    """Rows and keys stored, and what the collector counted as not stored in full (outcomes
    other than `accepted`: invalid entries, cut attributes)."""
    rows, keys = (Span, SpanKey) if kind == "span" else (LogEntry, LogKey)
    with database.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(rows)) or 0
        found = session.scalar(select(func.count()).select_from(keys)) or 0
        outcomes = session.execute(
            select(ItemOutcome.outcome, ItemOutcome.category, ItemOutcome.reason,
                   func.sum(ItemOutcome.quantity))
            .where(ItemOutcome.outcome != "accepted")
            .group_by(ItemOutcome.outcome, ItemOutcome.category, ItemOutcome.reason)
        )  # fmt: skip
        other = [f"{o} {c} ({r}): {n}" for o, c, r, n in outcomes]
    return stored, found, other


def report_ingest(
    args: argparse.Namespace,
    result: LoadResult,
    acked: int,
    stored: int,
    keys: int,
    server_cpu: float,
    warmup: LoadResult,
    body_size: int,
) -> None:
    per = PER_ENVELOPE[args.kind]
    noun = "spans" if args.kind == "span" else "log entries"
    print(harness.machine())
    print(
        f"backend: {args.backend}, `sentrail {args.command}`, workers: {args.workers}, "
        f"connections: {args.concurrency}, {args.envelopes} envelopes of {per} {noun} "
        f"(+{WARMUP} warm-up), about {body_size:,} bytes gzip'd each"
    )
    statuses = {**warmup.statuses}
    for status, n in result.statuses.items():
        statuses[status] = statuses.get(status, 0) + n
    print(f"statuses (envelopes): {dict(sorted(statuses.items()))}")
    verdict = "all acknowledged stored" if stored >= acked else "LOST: acknowledged not stored"
    print(f"{noun} acknowledged {acked:,}, stored {stored:,} ({keys:,} keys): {verdict}")
    entries = result.ok * per
    print(
        f"durably stored {noun}/s: {entries / result.elapsed:,.0f} "
        f"({result.ok / result.elapsed:,.0f} envelopes/s)"
    )
    print(
        f"server CPU: {server_cpu / result.elapsed:.2f} cores busy, "
        f"{server_cpu / max(1, entries) * 1e6:.0f} µs per entry"
    )
    print(
        f"ack latency p50: {result.percentile(0.50) * 1000:.1f} ms, "
        f"p95: {result.percentile(0.95) * 1000:.1f} ms, "
        f"p99: {result.percentile(0.99) * 1000:.1f} ms, max: {max(result.latencies) * 1000:.1f} ms"
    )


# -- reads: bulk load -------------------------------------------------------------------------


class Loader:
    """Rows straight into tables through the engine's own DBAPI connection (the app's pragmas on
    SQLite), `executemany` in chunks, one transaction per chunk."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.sqlite = database.is_sqlite
        self.raw = database.engine.raw_connection()
        self.marker = "?" if self.sqlite else "%s"

    def insert(self, table: Table, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        columns = [c.name for c in table.columns]
        statement = (
            f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join([self.marker] * len(columns))})"
        )
        cursor = self.raw.cursor()
        if self.sqlite:
            cursor.execute("BEGIN")
        cursor.executemany(statement, rows)
        cursor.close()
        self.commit()

    def commit(self) -> None:
        if self.sqlite:  # the app's engine leaves transactions to the caller (BEGIN above)
            self.raw.cursor().execute("COMMIT")
        else:
            self.raw.commit()

    def time(self, at: datetime) -> str:
        """A UTC time as the app's column type stores it."""
        if self.sqlite:
            return at.strftime("%Y-%m-%d %H:%M:%S.%f")
        return at.isoformat()

    def script(self, statements: list[str]) -> None:
        cursor = self.raw.cursor()
        for statement in statements:
            cursor.execute(statement)
        cursor.close()
        if not self.sqlite:
            self.raw.commit()

    def secondary_indexes(self, tables: list[str]) -> list[tuple[str, str]]:
        """(name, definition) of the indexes of `tables` that no constraint owns."""
        names = ", ".join(f"'{t}'" for t in tables)
        query = (
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({names})"
            if self.sqlite
            else f"SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ({names}) "
            f"AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
        cursor = self.raw.cursor()
        cursor.execute(query)
        found = [(str(name), str(sql)) for name, sql in cursor.fetchall()]
        cursor.close()
        return found

    def close(self) -> None:
        self.raw.close()


def template_orders(project_id: int, rng: random.Random) -> list[tuple[list[dict[str, Any]], Any]]:
    """TEMPLATES orders' log rows and keys as the collector reads them, with placeholders for
    the order id and trace id (one in ten failed: its last entry is an error)."""
    extractor = KeyExtractor(current_rules())
    found = []
    for n in range(TEMPLATES):
        batch = IngestBatch(project_id)
        entries = order_logs(rng, PLACEHOLDER_ORDER, PLACEHOLDER_TRACE, 0.0, failed=n % 10 == 9)
        read_log_items(batch, entries, datetime.now(UTC), extractor)
        assert len(batch.logs) == len(entries), "every template entry is a valid log entry"
        found.append(([r.row for r in batch.logs], [r.keys for r in batch.logs]))
    return found


def _template_rows(
    templates: list[tuple[list[dict[str, Any]], Any]],
) -> list[list[tuple[tuple[Any, ...], list[tuple[str, str, str, str | None]]]]]:
    """Each template order's entries as the column values that vary by order kept as text
    (body, template, parameters and attributes as stored JSON), and their keys."""
    orders = []
    for rows, keys in templates:
        entries = []
        for row, row_keys in zip(rows, keys, strict=True):
            fixed = (
                row["level"], row["severity_number"], row["body"], row["template"],
                orjson.dumps(row["parameters"]).decode(), row["service"], row["release"],
                row["environment"], orjson.dumps(row["attributes"]).decode(),
            )  # fmt: skip
            entries.append(
                (fixed, [(k.name, k.value, k.carrier, k.overruled or None) for k in row_keys])
            )
        orders.append(entries)
    return orders


def log_rows(
    loader: Loader, project_id: int, total: int, rng: random.Random
) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]], str]]:
    """Per order: its log_entry rows, log_key rows and journey row, and its id."""
    templates = _template_rows(template_orders(project_id, rng))
    end = datetime.now(UTC) - timedelta(minutes=5)
    step = timedelta(days=2) / max(1, total // 10)
    start = end - timedelta(days=2)
    row_id = key_id = 0
    journey_id = 0
    while row_id < total:
        journey_id += 1
        order = str(uuid_from(rng))
        trace = f"{rng.getrandbits(128):032x}"
        at = start + step * journey_id
        entries, keys = [], []
        for n, (fixed, entry_keys) in enumerate(rng.choice(templates)):
            row_id += 1
            level, severity, body, template, parameters, service, release, env, attrs = fixed
            when = loader.time(at + timedelta(milliseconds=10 * n))
            entries.append((
                row_id, project_id, hashlib.blake2b(b"%d" % row_id, digest_size=16).hexdigest(),
                when, level, severity, body.replace(PLACEHOLDER_ORDER, order), template,
                parameters.replace(PLACEHOLDER_ORDER, order), trace, f"{row_id:016x}", service,
                release, env, attrs.replace(PLACEHOLDER_ORDER, order), when,
            ))  # fmt: skip
            for name, value, carrier, overruled in entry_keys:
                key_id += 1
                value = value.replace(PLACEHOLDER_ORDER, order)
                keys.append((key_id, row_id, name, value, carrier, overruled))
        yield entries, keys, [journey_row(loader, journey_id, order, trace, at, entries)], order


def uuid_from(rng: random.Random) -> str:
    value = f"{rng.getrandbits(128):032x}"
    return f"{value[:8]}-{value[8:12]}-4{value[13:16]}-a{value[17:20]}-{value[20:]}"


def journey_row(
    loader: Loader, journey_id: int, order: str, trace: str, at: datetime, entries: list[Any]
) -> tuple[Any, ...]:
    """A minimal journey, as the correlator would have made of the order's events."""
    failed = any(entry[4] == "error" for entry in entries)
    when = loader.time(at)
    service = entries[0][11]
    return (
        journey_id, "checkout", "default", order, "failed" if failed else "completed",
        service if failed else None, when, when, len(entries), int(failed),
        orjson.dumps([service]).decode(), orjson.dumps([service] if failed else []).decode(),
        "[]", orjson.dumps([entries[0][12]]).decode(), '["production"]',
        orjson.dumps([trace]).decode(), "[]", when,
    )  # fmt: skip


def load_logs(database: Database, project_id: int, total: int) -> list[str]:
    """Loads about `total` log entries (ten per order) and a journey per order; returns a
    sample of the order ids (about 5,000)."""
    loader = Loader(database)
    tables = ["log_entry", "log_key", "journey"]
    indexes = loader.secondary_indexes(tables)
    loader.script([f"DROP INDEX {name}" for name, _ in indexes])
    chunks: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
    sample: list[str] = []
    every = max(1, total // 10 // 5000)
    started = time.perf_counter()
    for n, (entries, keys, journeys, order) in enumerate(log_rows(loader, project_id, total,
                                                                  random.Random(3))):  # fmt: skip
        if n % every == 0:
            sample.append(order)
        chunks[0].extend(entries)
        chunks[1].extend(keys)
        chunks[2].extend(journeys)
        if len(chunks[0]) >= CHUNK:
            _flush(loader, chunks, entries[-1][0], total, started)
    _flush(loader, chunks, None, total, started)
    index_started = time.perf_counter()
    loader.script([sql for _, sql in indexes])
    print(f"  indexes made again in {time.perf_counter() - index_started:.0f} s", flush=True)
    if not loader.sqlite:
        loader.script(
            [f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))"
             for t in tables] + [f"ANALYZE {t}" for t in tables]
        )  # fmt: skip
    loader.close()
    return sample


def _flush(
    loader: Loader,
    chunks: tuple[list[Any], list[Any], list[Any]],
    loaded: int | None,
    total: int,
    started: float,
) -> None:
    for table, rows in zip(
        (LogEntry.__table__, LogKey.__table__, Journey.__table__), chunks, strict=True
    ):
        loader.insert(table, rows)  # type: ignore[arg-type]
        rows.clear()
    if loaded is not None and loaded % 1_000_000 < CHUNK:
        rate = loaded / (time.perf_counter() - started)
        print(f"  loaded {loaded:,} of {total:,} log entries ({rate:,.0f}/s)", flush=True)


def load_trace(database: Database, project_id: int, rng: random.Random) -> str:
    """One trace of TRACE_SEGMENTS segments of 50 spans (each segment the child of the previous
    segment's outgoing call) and 100 log entries, through the collector's own path."""
    extractor = KeyExtractor(current_rules())
    trace = f"{rng.getrandbits(128):032x}"
    order = uuid_from(rng)
    now = datetime.now(UTC)
    start = now.timestamp() - 120
    batch = IngestBatch(project_id)
    parent = None
    for n in range(TRACE_SEGMENTS):
        spans = segment_spans(rng, order, trace, f"service-{n % 7}", start + n * 0.06)
        spans[0]["parent_span_id"] = parent
        parent = next(s["span_id"] for s in spans if s["name"].startswith("POST http"))
        read_span_items(batch, spans, now, extractor)
    for n in range(10):
        read_log_items(batch, order_logs(rng, order, trace, start + n * 0.2), now, extractor)
    with database.writing() as connection, connection.begin():
        write_batches(connection, [batch], {})
    return trace


# -- reads: timing --------------------------------------------------------------------------


def timed(client: httpx.Client, paths: list[str], warm: int = 5) -> list[float]:
    """Each GET's time in ms, after `warm` untimed ones."""
    times = []
    for n, path in enumerate([*paths[:warm], *paths]):
        started = time.perf_counter()
        response = client.get(path)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        if n >= warm:
            times.append(elapsed * 1000)
    return times


def line(label: str, times: list[float]) -> str:
    return (
        f"{label}: p50 {percentile(times, 0.5):.1f} ms, p95 {percentile(times, 0.95):.1f} ms, "
        f"max {max(times):.1f} ms ({len(times)} requests)"
    )


def prepared(args: argparse.Namespace, workdir: Path) -> tuple[str, Database, list[str], str]:
    """The database (url, handle), a sample of its orders and the 2,000-span trace: loaded
    into a fresh database, or with --keep into that SQLite file, which a later run with the
    same --keep reuses as it is."""
    if args.keep is not None and args.keep.exists():
        url = f"sqlite:///{args.keep}"
        database = Database(DatabaseSettings(database_url=url))
        with database.sessions() as session:
            every = max(1, (session.scalar(select(func.max(Journey.id))) or 0) // 5000)
            sample = list(session.scalars(select(Journey.key).where(Journey.id % every == 0)))
            trace = session.scalars(
                select(Span.trace_id).group_by(Span.trace_id).order_by(func.count().desc())
            ).first()
        assert trace is not None, f"{args.keep} holds no trace: not a database this bench made"
        print(f"reusing {args.keep} (--logs ignored)")
        return url, database, sample, trace
    if args.keep is not None:
        url = f"sqlite:///{args.keep}"
        migrations.upgrade(url)
        database, project_id, _ = harness.with_project(url)
    else:
        url = harness.fresh_database(args.backend, workdir)
        database, project_id, _ = harness.with_project(url)
    started = time.perf_counter()
    sample = load_logs(database, project_id, args.logs)
    trace = load_trace(database, project_id, random.Random(5))
    print(f"loaded in {time.perf_counter() - started:.0f} s")
    return url, database, sample, trace


def describe(database: Database, url: str, sample: list[str], trace: str) -> int:
    """Prints what the database holds; returns the trace's span count."""
    with database.sessions() as session:
        logs = session.scalar(select(func.max(LogEntry.id))) or 0
        spans = session.scalar(select(func.count()).where(Span.trace_id == trace)) or 0
    backend = "sqlite" if database.is_sqlite else "postgresql"
    print(f"backend: {backend}; {logs:,} log entries ({len(sample):,} orders sampled), "
          f"a trace of {spans:,} spans")  # fmt: skip
    if database.is_sqlite:
        size = Path(url.removeprefix("sqlite:///")).stat().st_size
        print(f"database file: {size / 2**30:.2f} GiB")
    return spans


def reads(args: argparse.Namespace) -> None:
    rng = random.Random(5)
    print(harness.machine())
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url, database, sample, trace = prepared(args, workdir)
        spans = describe(database, url, sample, trace)
        cookie = start_session(database, TOKEN)
        database.dispose()
        env = {"SENTRAIL_DASHBOARD_TOKEN": TOKEN}
        with running_server(url, workdir / "server.log", command="dashboard", extra_env=env) as s:
            api = httpx.Client(
                base_url=s.url, timeout=60, headers={"Authorization": f"Bearer {TOKEN}"}
            )
            pages = httpx.Client(base_url=s.url, timeout=60, cookies={COOKIE: cookie})
            orders = [rng.choice(sample) for _ in range(args.requests)]
            times = timed(api, [f"/api/v1/logs?order_id={o}" for o in orders])
            print(line("GET /api/v1/logs?order_id=<order>", times))
            answer = api.get(f"/api/v1/logs?order_id={orders[0]}").json()
            print(f"  (an order's answer: {len(answer['logs'])} entries)")
            trace_paths = [f"/api/v1/traces/{trace}"] * args.trace_requests
            print(line(f"GET /api/v1/traces/{{id}} ({spans:,} spans)", timed(api, trace_paths)))
            page_paths = [f"/traces/{trace}"] * args.trace_requests
            times = timed(pages, page_paths)
            size = len(pages.get(page_paths[0]).content)
            print(line(f"page /traces/{{id}} ({size / 1024:,.0f} KiB of HTML)", times))
        if args.keep is None:
            harness.drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="bench", required=True)
    ingesting = commands.add_parser("ingest", help="span or log ingest throughput")
    ingesting.set_defaults(run=ingest)
    ingesting.add_argument("--kind", choices=["span", "log"], required=True)
    ingesting.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ingesting.add_argument("--envelopes", type=int, default=2000)
    ingesting.add_argument("--concurrency", type=int, default=32)
    ingesting.add_argument("--workers", type=int, default=1)
    ingesting.add_argument("--command", choices=["collector", "serve"], default="collector")
    reading = commands.add_parser("reads", help="trace and order-log reads over a large table")
    reading.set_defaults(run=reads)
    reading.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    reading.add_argument("--logs", type=int, default=10_000_000)
    reading.add_argument("--requests", type=int, default=500)
    reading.add_argument("--trace-requests", type=int, default=100)
    reading.add_argument(
        "--keep",
        type=Path,
        help="SQLite: load into this file and keep it; a later run with it reuses it as it is",
    )
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
