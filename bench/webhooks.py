"""Webhook benchmark: response time of signed `error.created` deliveries, 200 at a time.

    python -m bench.webhooks --backend sqlite --rounds 10 --concurrency 200 [--workers 2]

Each round opens `concurrency` connections and sends one delivery on each at once, as a burst
of alerts from sentry.io would; latencies of all rounds are pooled.
"""

import asyncio
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bench import harness
from bench import webhook_payloads as sp
from bench.http_load import LoadResult, run_load
from bench.server import running_server
from store.engine import Database
from store.models import WebhookDelivery
from store.settings import DatabaseSettings

SECRET = "bench-client-secret"


def main() -> None:
    parser = harness.parser(__doc__, command="serve")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()
    pooled = LoadResult()
    client_cpu = server_cpu = elapsed = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        url = harness.fresh_database(args.backend, Path(tmp))
        env = {"SENTRAIL_SENTRY_CLIENT_SECRET": SECRET}
        with running_server(
            url,
            Path(tmp) / "server.log",
            extra_env=env,
            workers=args.workers,
            command=args.command,
        ) as server:
            host, port = server.url.removeprefix("http://").split(":")
            for round_ in range(args.rounds + 1):
                signed = [
                    sp.signed(sp.envelope("created", {"error": sp.event()}), "error", SECRET)
                    for _ in range(args.concurrency)
                ]
                client_before = time.process_time()
                server_before = sum(harness.process_cpu_seconds(server.process.pid))
                result = asyncio.run(
                    run_load(
                        host,
                        int(port),
                        "/webhooks/sentry",
                        [b for b, _ in signed],
                        [h for _, h in signed],
                        args.concurrency,
                    )
                )
                if round_ == 0:
                    continue  # warm-up
                client_cpu += time.process_time() - client_before
                server_cpu += sum(harness.process_cpu_seconds(server.process.pid)) - server_before
                elapsed += result.elapsed
                pooled.latencies += result.latencies
                for status, n in result.statuses.items():
                    pooled.statuses[status] = pooled.statuses.get(status, 0) + n
        writer_lines = harness.group_commits(Path(tmp) / "server.log")
        database = Database(DatabaseSettings(database_url=url))
        with database.sessions() as session:
            stored = session.scalar(select(func.count()).select_from(WebhookDelivery))
        database.dispose()
    print(harness.machine())
    print(
        f"backend: {args.backend}, `sentrail {args.command}`, workers: {args.workers}, "
        f"{args.rounds} rounds of {args.concurrency} concurrent deliveries"
    )
    print(f"statuses: {dict(sorted(pooled.statuses.items()))}, deliveries stored: {stored}")
    for line in writer_lines:
        print(f"group commit (whole run, one line per worker): {line}")
    print(
        f"server CPU: {server_cpu / len(pooled.latencies) * 1e6:.0f} µs per delivery; "
        f"load generator: {client_cpu / elapsed:.2f} cores while the rounds ran"
    )
    print(f"response time {pooled.latency()}")


if __name__ == "__main__":
    main()
