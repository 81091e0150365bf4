"""Spans and logs: the collector's CPU per entry, in process, without HTTP or load.

    python -m bench.telemetry_cpu [--kind span|log] [--entries 20000] [--group 32] \
        [--repeat 3] [--profile read|write]

The envelopes of bench/telemetry_payloads.py (gzip'd, 50 spans or 100 log entries each) are
read as the ingest endpoint reads them (`read_envelope`: decode, parse, bound, scrub, read
each entry, extract keys), then stored as the writer stores them (`write_batches`, `group`
envelopes per transaction, on a fresh SQLite database with the app's pragmas). Reported: CPU
µs per entry of this process (`time.process_time`, so that other processes on a shared
machine count less than in wall time), read and write apart, the best of `repeat` runs. The
server's own figure (bench/telemetry.py, "server CPU … µs per entry") adds HTTP, the writer's
waits and, under `serve`, the correlator.
"""

import argparse
import cProfile
import pstats
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import harness
from bench.telemetry_payloads import log_envelopes, span_envelopes
from collector.batch import IngestBatch
from collector.items import ItemReader
from collector.lanes import read_envelope
from collector.persist import write_batches
from collector.settings import CollectorSettings
from rules.config import current_rules
from rules.extract import KeyExtractor

PER_ENVELOPE = {"span": 50, "log": 100}


def measure(
    args: argparse.Namespace, reader: ItemReader, seed: int, workdir: Path
) -> tuple[float, float]:
    """(read, write) CPU µs per entry of one run."""
    build = span_envelopes if args.kind == "span" else log_envelopes
    bodies = build(args.entries // PER_ENVELOPE[args.kind], time.time() - 60, seed=seed)
    database, project_id, _ = harness.with_project(harness.fresh_database("sqlite", workdir))
    profile = cProfile.Profile() if args.profile else None
    started = time.process_time()
    if profile is not None and args.profile == "read":
        profile.enable()
    batches: list[IngestBatch] = [
        read_envelope(project_id, body, "gzip", datetime.now(UTC), None, reader)[1]
        for body in bodies
    ]
    read = time.process_time() - started
    if profile is not None:
        profile.disable()
        if args.profile == "write":
            profile.enable()
    started = time.process_time()
    for first in range(0, len(batches), args.group):
        with database.writing() as connection, connection.begin():
            write_batches(connection, batches[first : first + args.group], {})
    written = time.process_time() - started
    if profile is not None:
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
    database.dispose()
    entries = len(bodies) * PER_ENVELOPE[args.kind]
    return read / entries * 1e6, written / entries * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", choices=["span", "log"], default="span")
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--group", type=int, default=32, help="envelopes per transaction")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", choices=["read", "write"])
    args = parser.parse_args()
    reader = ItemReader(CollectorSettings(), KeyExtractor(current_rules()))
    runs = []
    for n in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(measure(args, reader, 7 + n, Path(tmp)))
        print(f"run {n + 1}: read {runs[-1][0]:.1f}, write {runs[-1][1]:.1f} µs per entry")
    read, write = min(r for r, _ in runs), min(w for _, w in runs)
    print(harness.machine())
    print(
        f"{args.kind}: read {read:.1f} + write {write:.1f} = {read + write:.1f} CPU µs per entry "
        f"(best of {args.repeat}, {args.entries:,} entries, {args.group} envelopes per commit)"
    )


if __name__ == "__main__":
    main()
