"""Scale-out benchmark: stored events/s with 1 and with 2 `sentrail collector` processes on one
PostgreSQL (load split evenly, 32 connections in all), plus 2 correlator workers keeping up.

    python -m bench.scale_out --events 20000
"""

import argparse
import asyncio
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import func, select

from bench import harness
from bench.http_load import run_load
from bench.payloads import gzipped_envelopes
from bench.server import running_correlators, running_server
from store.models import JOURNEYS_STATE, CorrelatorState, Event


def run(collectors: int, events: int, workdir: Path) -> None:
    url = harness.fresh_database("postgresql", workdir)
    database, project_id, key = harness.with_project(url)
    headers = {
        "X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7",
        "Content-Encoding": "gzip",
    }
    bodies = gzipped_envelopes(events)
    with ExitStack() as stack:
        servers = [
            stack.enter_context(
                running_server(url, workdir / f"c{collectors}-{i}.log", command="collector")
            )
            for i in range(collectors)
        ]
        logs = [workdir / f"c{collectors}-correlator{i}.log" for i in range(2)]
        stack.enter_context(running_correlators(url, logs))

        async def load() -> tuple[int, float]:
            started = time.perf_counter()
            results = await asyncio.gather(
                *(
                    run_load("127.0.0.1", int(s.url.rsplit(":", 1)[1]),
                             f"/api/{project_id}/envelope/", bodies[i::collectors], headers,
                             32 // collectors)
                    for i, s in enumerate(servers)
                )
            )  # fmt: skip
            return sum(r.ok for r in results), time.perf_counter() - started

        acked, elapsed = asyncio.run(load())
        with database.sessions() as session:
            stored = session.scalar(select(func.count()).select_from(Event)) or 0
            newest = session.scalar(select(func.max(Event.id))) or 0
        caught_up = time.perf_counter()
        while True:
            with database.sessions() as session:
                mark = (
                    session.scalar(
                        select(CorrelatorState.watermark).where(
                            CorrelatorState.name == JOURNEYS_STATE
                        )
                    )
                    or 0
                )
            if mark >= newest:
                break
            time.sleep(0.1)
        lag = time.perf_counter() - caught_up
    database.dispose()
    print(
        f"{collectors} collector(s): {acked:,} acked, {stored:,} stored "
        f"({'none lost' if stored >= acked else 'LOST'}), {acked / elapsed:,.0f} events/s; "
        f"correlators caught up {lag:.1f} s after the load ended"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    print(harness.machine())
    for collectors in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            run(collectors, args.events, Path(tmp))


if __name__ == "__main__":
    main()
