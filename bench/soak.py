"""Soak benchmark: a steady rate for a long time; server RSS and latency must stay flat.

    python -m bench.soak --backend sqlite --rate 400 --minutes 10

Sends gzip'd error envelopes at a fixed rate (at most 32 in flight) to a real
`sentrail serve`, and prints one line a minute: acknowledged, refused, p50/p99 latency and the
server's resident memory.
"""

import asyncio
import gzip
import random
import tempfile
import time
from pathlib import Path

from bench import harness
from bench.http_load import percentile, read_response
from bench.payloads import envelope, error_event
from bench.server import running_server


class Minute:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.refused = 0


async def connection(
    host: str,
    port: int,
    path: str,
    head: bytes,
    bodies: list[bytes],
    interval: float,
    offset: float,
    deadline: float,
    minutes: list[Minute],
    start: float,
) -> None:
    """One keep-alive connection sending every `interval` seconds (closed loop: it never has
    more than one request in flight, so a slow server cannot pile up a backlog)."""
    reader, writer = await asyncio.open_connection(host, port)
    next_at = start + offset
    index = 0
    try:
        while (now := time.perf_counter()) < deadline:
            if next_at > now:
                await asyncio.sleep(next_at - now)  # the pacing of a steady load
            body = bodies[index % len(bodies)]
            index += 1
            started = time.perf_counter()
            writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
            status = await read_response(reader)
            minute = minutes[min(len(minutes) - 1, int((started - start) // 60))]
            if status == 200:
                minute.latencies.append(time.perf_counter() - started)
            else:
                minute.refused += 1
            next_at += interval
    finally:
        writer.close()


async def soak(url: str, project_id: int, key: str, rate: float, minutes: int, pid: int) -> None:
    rng = random.Random(3)
    count = int(rate * 60 * minutes) + 64
    print(f"preparing {count} envelopes", flush=True)
    bodies = [gzip.compress(envelope(error_event(rng, "soak-1")), 1) for _ in range(count)]
    host, port = url.removeprefix("http://").split(":")
    path = f"/api/{project_id}/envelope/"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Encoding: gzip\r\n"
        f"X-Sentry-Auth: Sentry sentry_key={key}, sentry_version=7\r\n"
        f"Content-Length: "
    ).encode()
    per_connection = [bodies[i::32] for i in range(32)]
    interval = 32 / rate
    results = [Minute() for _ in range(minutes)]
    start = time.perf_counter()
    deadline = start + 60 * minutes
    runs = [
        asyncio.create_task(
            connection(
                host,
                int(port),
                path,
                head,
                per_connection[i],
                interval,
                interval * i / 32,
                deadline,
                results,
                start,
            )
        )
        for i in range(32)
    ]
    print("minute  acked  refused  p50 ms  p99 ms  server RSS MiB", flush=True)
    for index, minute in enumerate(results, start=1):
        await asyncio.sleep(max(0.0, start + 60 * index - time.perf_counter()))
        p50 = percentile(minute.latencies, 0.5) * 1000
        p99 = percentile(minute.latencies, 0.99) * 1000
        print(
            f"{index:6d}  {len(minute.latencies):5d}  {minute.refused:7d}  {p50:6.1f}"
            f"  {p99:6.1f}  {harness.rss_mib(pid):14.1f}",
            flush=True,
        )
    await asyncio.gather(*runs)


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--rate", type=float, default=400.0)
    parser.add_argument("--minutes", type=int, default=10)
    args = parser.parse_args()
    print(
        f"{harness.machine()}; backend {args.backend}, "
        f"{args.rate:.0f} events/s for {args.minutes} minutes"
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = harness.fresh_database(args.backend, Path(tmp))
        database, project_id, key = harness.with_project(url, name="soak")
        database.dispose()
        with running_server(url, Path(tmp) / "server.log") as server:
            asyncio.run(
                soak(server.url, project_id, key, args.rate, args.minutes, server.process.pid)
            )


if __name__ == "__main__":
    main()
