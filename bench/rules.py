"""Onboarding commands over a million stored events: `rules suggest`, `rules check`, and the
re-extraction of keys that `correlate --rebuild` starts with.

    python -m bench.rules --events 1000000 [--backend postgresql]

1. Loads EVENTS events shaped like the ACME shop's (bench/correlator.py `order_events`). To load
   quickly it does not go through the writer: each event is normalised by the collector's own
   `normalize_event` (so the row, its compressed raw payload and its keys are what the writer
   would store) and the rows are bulk-inserted straight into `event` and `correlation_key`,
   with ids given here. Issues, hourly counts and journeys are not made (no command timed here
   reads them).
2. Times (wall and CPU seconds), each in a process of its own as a user runs it (interpreter
   start included):
   `sentrail rules suggest` (the newest 200,000 events, the default), `sentrail rules suggest
   --events 0` (every event), `sentrail rules check` of the suggested file and of the shipped
   ACME rules.
3. Times the re-extraction alone (sentrail/rekey.py `rekey`) under the rules the events were
   stored with: every payload is read and every key compared, none written.
"""

import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import insert, text

from bench import harness
from bench.correlator import RELEASES, order_events
from collector.normalize import normalize_event
from rules.config import DEFAULT_RULES, current_rules
from rules.extract import KeyExtractor
from sentrail.rekey import rekey
from store.engine import Database
from store.models import CorrelationKey, Event

PAGE = 5000
SEQUENCE = "SELECT setval(pg_get_serial_sequence('event', 'id'), (SELECT max(id) FROM event))"


def load(database: Database, project_id: int, events: int, rng: random.Random) -> int:
    """Writes about `events` events and their keys; returns how many."""
    extractor = KeyExtractor(current_rules())
    now = datetime.now(UTC)
    span = timedelta(days=2)
    rows: list[dict[str, Any]] = []
    keys: list[dict[str, Any]] = []
    written = 0
    started = time.perf_counter()
    while written < events:
        fraction = written / events
        release = RELEASES[min(len(RELEASES) - 1, int(fraction * len(RELEASES)))]
        for event in order_events(str(uuid.uuid4()), release, now - span + span * fraction, rng):
            written += 1
            kind = "transaction" if event.get("type") == "transaction" else "event"
            normalized = normalize_event(
                event,
                kind=kind,
                payload=orjson.dumps(event),
                received_at=now,
                fallback_event_id=None,
                extractor=extractor,
            )
            rows.append({**normalized.row, "id": written, "project_id": project_id})
            keys += [
                {
                    "event_row_id": written,
                    "name": k.name,
                    "value": k.value,
                    "carrier": k.carrier,
                    "overruled": k.overruled or None,
                }
                for k in normalized.keys
            ]
        if len(rows) >= PAGE:
            _write(database, rows, keys)
            rows, keys = [], []
            if written % 100_000 < 12:
                rate = written / (time.perf_counter() - started)
                print(f"  loaded {written:,} events ({rate:,.0f}/s)", flush=True)
    _write(database, rows, keys)
    if not database.is_sqlite:  # ids were given here: the sequence goes on after them
        with database.writing() as connection:
            connection.execute(text(SEQUENCE))
            connection.commit()
    return written


def _write(database: Database, rows: list[dict[str, Any]], keys: list[dict[str, Any]]) -> None:
    if not rows:
        return
    with database.writing() as connection:
        connection.execute(insert(Event), rows)
        if keys:
            connection.execute(insert(CorrelationKey), keys)
        connection.commit()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_command(url: str, *args: str) -> tuple[str, str]:
    """How long `sentrail ARGS` took in a process of its own (wall and CPU seconds: on a shared
    machine the wall time says as much about the neighbours), and what it printed."""
    env = {**os.environ, "SENTRAIL_DATABASE_URL": url}
    started, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(
        [sys.executable, "-m", "sentrail", *args], env=env, capture_output=True, text=True
    )
    elapsed, cpu = time.perf_counter() - started, _children_cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"sentrail {' '.join(args)} failed: {done.stderr[-2000:]}")
    return f"{elapsed:.1f} s ({cpu:.1f} s CPU)", done.stdout


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    print(harness.machine())
    with tempfile.TemporaryDirectory() as tmp:
        url = harness.fresh_database(args.backend, Path(tmp))
        database, project_id, _ = harness.with_project(url)
        started = time.perf_counter()
        written = load(database, project_id, args.events, random.Random(11))
        print(f"backend: {args.backend}; loaded {written:,} events in "
              f"{time.perf_counter() - started:.0f} s")  # fmt: skip

        seconds, suggested = timed_command(url, "rules", "suggest")
        journey = next(line for line in suggested.splitlines() if line.startswith("key = "))
        print(f"rules suggest (newest 200,000 events): {seconds}; flow {journey}")
        seconds, everything = timed_command(url, "rules", "suggest", "--events", "0")
        journey = next(line for line in everything.splitlines() if line.startswith("key = "))
        print(f"rules suggest --events 0 ({written:,} events): {seconds}; flow {journey}")
        path = Path(tmp) / "suggested.toml"
        path.write_text(suggested)
        for label, rules in (("the suggested rules", path), ("the ACME rules", DEFAULT_RULES)):
            seconds, report = timed_command(url, "rules", "check", str(rules), "--format", "json")
            found = orjson.loads(report)
            print(
                f"rules check of {label} ({found['events']:,} events): {seconds}; "
                f"{sum(found['journeys'].values()):,} journeys, {found['ambiguous']:,} ambiguous"
            )
        started, cpu = time.perf_counter(), time.process_time()
        result = rekey(database, current_rules())
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"re-extraction (correlate --rebuild's first step, nothing to change): "
              f"{result.events:,} events in {seconds:.1f} s ({cpu:.1f} s CPU; "
              f"{result.events / seconds:,.0f}/s), {result.changed:,} changed")  # fmt: skip
        database.dispose()


if __name__ == "__main__":
    main()
