"""Hostile-input benchmark: what attackers with a DSN key (or none) cost everyone else.

    python -m bench.hostile --backend sqlite --seconds 30 --per-kind 20 [--think 0.5]

Starts a real `sentrail serve` on a fresh database. Every kind of hostile request below runs
`--per-kind` at a time for `--seconds`, each sender starting its next request when its last one
is answered (or refused, or cut off). Beside them a probe sends one ordinary error event every
50 ms and asks /healthz every 100 ms. Printed: the probe's ack and /healthz latencies, the
server's largest resident memory, and what each hostile kind was answered. Targets
(README, Performance: Hostile input): ack p99 < 100 ms, /healthz p99 < 50 ms, RSS < 400 MB,
no 5xx.
"""

import asyncio
import gzip
import random
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench import harness
from bench.http_load import percentile, read_response
from bench.payloads import envelope, error_event
from bench.server import running_server

MiB = 1024 * 1024


def _event(**fields: Any) -> bytes:
    body = {"event_id": uuid.uuid4().hex, "timestamp": time.time(), "platform": "python"}
    return envelope({**body, **fields})


def _nested(depth: int) -> bytes:
    """An event whose `extra` nests `depth` levels, secrets at the bottom (written by hand:
    orjson writes at most 254 levels)."""
    inner = b'{"password":"hunter2","card":"4111 1111 1111 1111"}'
    nested = b'{"a":' * depth + inner + b"}" * depth
    event = orjson.dumps({"event_id": uuid.uuid4().hex, "message": "deep", "extra": "NESTED"})
    # An item without `length` runs to the end of its line (what SDKs may send too).
    return b'{}\n{"type":"event"}\n' + event.replace(b'"NESTED"', nested) + b"\n"


BODIES: dict[str, bytes] = {
    "format-bomb": _event(
        logentry={"message": "%(a)100000000s" * 20, "params": {"a": "x"}}, message=None
    ),
    "long-message": _event(message="a." * (450 * 1024)),
    "deep-nesting": _nested(1000),
    "secret-soup": _event(message="a4111111111111111tokenx password=" * 20_000),
    "many-keys": _event(
        message="keys",
        tags={f"t{i}": str(i) for i in range(10_000)},
        extra={f"e{i}": i for i in range(10_000)},
    ),
    "garbage-envelope": b'{"event_id":"x"}\n{"type":"event","length":999999}\n' + b"{" * 4096,
}
GZIP_BOMB = gzip.compress(b"\0" * (200 * MiB), 9)


def _request(method: str, path: str, body: bytes = b"", **headers: str) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: sentrail\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def hostile_requests(project_id: int, key: str) -> dict[str, tuple[bytes, float]]:
    """Each kind's request as bytes on the wire, and the pause between its 64 KiB writes."""
    envelope_path = f"/api/{project_id}/envelope/"
    auth = {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    webhook = orjson.dumps({"action": "created", "data": {"issue": {"id": "1" * 5000}}})
    return {
        **{
            name: (_request("POST", envelope_path, body, **auth), 0.0)
            for name, body in BODIES.items()
        },
        "gzip-bomb": (
            _request("POST", envelope_path, GZIP_BOMB, **auth, **{"Content-Encoding": "gzip"}),
            0.0,
        ),
        "big-login": (_request("POST", "/login", b"token=" + b"x" * MiB, **form), 0.0),
        "unsigned-webhook": (
            _request("POST", "/webhooks/sentry", webhook, **{"Sentry-Hook-Resource": "issue"}),
            0.0,
        ),
        "huge-header": (_request("GET", "/healthz", b"", **{"X-A": "a" * MiB}), 0.0),
        # Slowloris: a header trickled in 64 KiB steps, 50 ms apart, never finished.
        "slow-header": (b"GET /healthz HTTP/1.1\r\nX-A: " + b"a" * (2 * MiB), 0.05),
    }


async def _sender(
    host: str, port: int, request: bytes, pause: float, think: float, deadline: float
) -> Counter[int]:
    """Sends `request` again and again on a keep-alive connection until `deadline`, `think`
    seconds after each answer, opening a new connection whenever the server closes one;
    counts the statuses (0: closed unanswered)."""
    answers: Counter[int] = Counter()
    while time.perf_counter() < deadline:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                for at in range(0, len(request), 64 * 1024):
                    writer.write(request[at : at + 64 * 1024])
                    await writer.drain()
                    if pause:
                        await asyncio.sleep(pause)
                answers[await read_response(reader)] += 1
                await asyncio.sleep(think)
        except (ConnectionError, asyncio.IncompleteReadError, IndexError, ValueError):
            answers[0] += 1
        finally:
            writer.close()
    return answers


async def _timed(
    host: str, port: int, request: Callable[[], bytes], every: float, deadline: float
) -> tuple[list[float], Counter[int]]:
    """One keep-alive connection sending `request()` every `every` seconds: the latency of
    each 200 and the count of each status."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request())
            status = await read_response(reader)
            statuses[status] += 1
            if status == 200:
                latencies.append(time.perf_counter() - started)
            await asyncio.sleep(max(0.0, every - (time.perf_counter() - started)))
    finally:
        writer.close()
    return latencies, statuses


async def _memory(pid: int, deadline: float) -> float:
    largest = 0.0
    while time.perf_counter() < deadline:
        largest = max(largest, harness.rss_mib(pid))
        await asyncio.sleep(0.25)
    return largest


async def run(
    url: str, project_id: int, key: str, pid: int, seconds: float, per_kind: int, think: float
) -> None:
    host, port = url.removeprefix("http://").split(":")
    rng = random.Random(5)
    auth = {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"}
    path = f"/api/{project_id}/envelope/"
    kinds = hostile_requests(project_id, key)
    deadline = time.perf_counter() + seconds
    (acks, probe_statuses), (health, _), largest, answers = await asyncio.gather(
        _timed(
            host,
            int(port),
            lambda: _request("POST", path, envelope(error_event(rng, "hostile-1")), **auth),
            0.05,
            deadline,
        ),
        _timed(host, int(port), lambda: _request("GET", "/healthz"), 0.1, deadline),
        _memory(pid, deadline),
        asyncio.gather(
            *(
                _sender(host, int(port), request, pause, think, deadline)
                for request, pause in kinds.values()
                for _ in range(per_kind)
            )
        ),
    )
    print(
        f"probe events: {dict(probe_statuses)}; ack p50 {percentile(acks, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(acks, 0.99) * 1000:.1f} ms, max {max(acks, default=0) * 1000:.1f} ms"
    )
    print(
        f"/healthz: {len(health)} answered; p50 {percentile(health, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(health, 0.99) * 1000:.1f} ms"
    )
    print(f"server RSS: at most {largest:.0f} MiB")
    by_kind: dict[str, Counter[int]] = {name: Counter() for name in kinds}
    for index, counts in enumerate(answers):
        by_kind[list(kinds)[index // per_kind]].update(counts)
    for name, counts in by_kind.items():
        shown = ", ".join(f"{status or 'closed'}: {n}" for status, n in sorted(counts.items()))
        print(f"  {name:18s} {shown}")
    # 503 with Retry-After is the overload answer (docs/decisions.md#1); any other 5xx is a bug.
    errors = sum(n for c in by_kind.values() for s, n in c.items() if s >= 500 and s != 503)
    print(f"5xx other than 503 (overload, Retry-After): {errors}")


def main() -> None:
    parser = harness.parser(__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--per-kind", type=int, default=20)
    parser.add_argument(
        "--think",
        type=float,
        default=0.5,
        help="seconds each hostile sender waits after an answer (0: a flood of refusals)",
    )
    args = parser.parse_args()
    print(
        f"{harness.machine()}; backend {args.backend}; every hostile kind "
        f"{args.per_kind} at a time for {args.seconds:.0f} s, {args.think} s between answer "
        "and next request"
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = harness.fresh_database(args.backend, Path(tmp))
        database, project_id, key = harness.with_project(url, name="hostile")
        database.dispose()
        token = {"SENTRAIL_DASHBOARD_TOKEN": "hostile-bench-token-0123456789"}  # nosec B105
        with running_server(url, Path(tmp) / "server.log", extra_env=token) as server:
            asyncio.run(
                run(
                    server.url,
                    project_id,
                    key,
                    server.process.pid,
                    args.seconds,
                    args.per_kind,
                    args.think,
                )
            )


if __name__ == "__main__":
    main()
