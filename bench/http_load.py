"""A lean HTTP/1.1 keep-alive load generator, so the client costs little of a 2-core machine."""

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    def percentile(self, p: float) -> float:
        return percentile(self.latencies, p)

    def latency(self) -> str:
        return (
            f"p50: {self.percentile(0.50) * 1000:.1f} ms, "
            f"p99: {self.percentile(0.99) * 1000:.1f} ms, "
            f"max: {max(self.latencies) * 1000:.1f} ms"
        )


def percentile(values: list[float], p: float) -> float:
    """The value `p` (0 to 1) of the way up `values`; 0 when there are none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0


async def read_response(reader: asyncio.StreamReader) -> int:
    """Reads one response off a keep-alive connection; returns its status."""
    status_line = await reader.readline()
    status = int(status_line.split(b" ", 2)[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def run_load(
    host: str,
    port: int,
    path: str,
    bodies: list[bytes],
    headers: dict[str, str] | list[dict[str, str]],
    concurrency: int,
) -> LoadResult:
    """Sends every body once over `concurrency` keep-alive connections; `headers` is shared,
    or one dict per body."""
    result = LoadResult()
    per_body = headers if isinstance(headers, list) else [headers] * len(bodies)
    requests = [
        (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in each.items())
            + f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        for body, each in zip(bodies, per_body, strict=True)
    ]
    queue = iter(requests)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for request in queue:
                started = time.perf_counter()
                writer.write(request)
                status = await read_response(reader)
                result.latencies.append(time.perf_counter() - started)
                result.statuses[status] = result.statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - started
    return result
