"""Large requests take a lane of their own, in a process of their own, so that a flood of them
cannot hold the event loop that every small request (and /healthz) waits on.

Decompressing, parsing, scrubbing and normalising a 1 MiB event costs tens to hundreds of
milliseconds of CPU. On the event loop, twenty such requests at once kept ordinary events
waiting for seconds; on a thread beside it, the loop still waited for the interpreter lock at
every turn (ack p50 ~370 ms, bench/hostile.py). In a process of their own they cost the loop
only the body's copy there and the batch's copy back. Large requests are read there one at a
time; at most `capacity` are admitted at once, and past that the answer is 503 with
Retry-After (docs/decisions.md#1: refuse, never drop silently). Small requests, nearly all of
what SDKs send, never leave the fast path.
"""

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from collector.batch import IngestBatch, NormalizedEvent
from collector.encodings import decode_body
from collector.items import ItemReader
from collector.parsers import parse_envelope
from collector.settings import CollectorSettings
from rules.config import current_rules
from rules.extract import KeyExtractor
from store.errors import PayloadTooLarge, Unavailable

T = TypeVar("T")
# Above these sizes a request is large: SDK events are 1-10 KiB, gzip'd 1-4 KiB.
LARGE_BODY = 64 * 1024
# A compressed body may expand up to the envelope cap: one that is small as sent is decompressed
# on the event loop up to LARGE_DECODED_BODY only (a bounded cost), and is large if it expands
# past it. Current SDKs' batches are well inside it (100 log entries: ~5 KiB gzip'd, ~95 KiB
# decoded; 50 spans: ~56 KiB): at LARGE_BODY they all took the one-process lane, which then
# refused most of them (503) under load.
LARGE_COMPRESSED_BODY = 16 * 1024
LARGE_DECODED_BODY = 512 * 1024
LANE_NICENESS = 10

_reader: ItemReader | None = None  # the lane process's own, made when it starts


def _start(settings: CollectorSettings) -> None:
    global _reader
    # Large requests wait for the CPU after everything else: the event loop, the writer and
    # the correlator go first (the scheduler's nice, not a sentrail queue).
    os.nice(LANE_NICENESS)
    _reader = ItemReader(settings, KeyExtractor(current_rules()))


def lane_reader() -> ItemReader:
    assert _reader is not None, "runs in the lane's process only"
    return _reader


def read_envelope(
    project_id: int,
    body: bytes,
    encoding: str | None,
    received_at: datetime,
    client_ip: str | None,
    reader: ItemReader | None = None,
) -> tuple[Any, IngestBatch]:
    """(the envelope header's `dsn`, the batch), with `reader`, or the lane's own in the lane's
    process. The caller checks the key against the `dsn` before storing anything."""
    reader = reader or lane_reader()
    envelope = parse_envelope(decode_body(body, encoding, reader.settings.max_envelope_bytes))
    batch = reader.envelope(project_id, envelope, received_at, client_ip)
    return envelope.headers.get("dsn"), batch


def read_store_body(
    body: bytes,
    encoding: str | None,
    received_at: datetime,
    client_ip: str | None,
    reader: ItemReader | None = None,
) -> NormalizedEvent:
    """The event of a `/store/` body, with `reader` or the lane's own."""
    reader = reader or lane_reader()
    decoded = decode_body(body, encoding, reader.settings.max_envelope_bytes)
    return reader.store_body(decoded, received_at, client_ip)


class LargeRequestLane:
    def __init__(self, settings: CollectorSettings) -> None:
        self.capacity = settings.max_large_requests
        self._settings = settings
        self._retry = {"Retry-After": str(settings.retry_after_seconds)}
        self._admitted = 0
        self._executor: ProcessPoolExecutor | None = None  # started by the first large request

    @staticmethod
    def is_large(length: int, encoding: str | None) -> bool:
        limit = LARGE_COMPRESSED_BODY if encoding and encoding != "identity" else LARGE_BODY
        return length > limit

    @staticmethod
    def small_body(body: bytes, encoding: str | None) -> bytes | None:
        """The body decoded, when it is small both as sent and decoded (LARGE_DECODED_BODY at
        most), else None: the request is large, and the lane decodes it under the envelope cap.
        One rule for every endpoint: a request is judged by what it decodes to, so that 16 KiB
        of zstd that expands to 20 MiB never runs on the event loop. Decoding stops just past
        LARGE_DECODED_BODY (collector/encodings.py), so judging costs the loop little."""
        if LargeRequestLane.is_large(len(body), encoding):
            return None
        if not encoding or encoding.strip().lower() == "identity":
            return body
        try:
            return decode_body(body, encoding, LARGE_DECODED_BODY)
        except PayloadTooLarge:
            return None

    def check_room(self, declared_length: str | None, encoding: str | None) -> None:
        """Refuses a request that says it is large while the lane is full, before its body is
        read: reading a megabyte only to refuse it is the cost a flood would impose."""
        length = declared_length or ""
        if self._admitted < self.capacity or not (length.isascii() and length.isdigit()):
            return
        if self.is_large(int(length), encoding):
            raise self._full()

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)` in the lane's process, or 503 when `capacity` large requests are in."""
        if self._admitted >= self.capacity:
            raise self._full()
        self._admitted += 1
        try:
            if self._executor is None:
                # Spawned, not forked: the server's threads (writer, correlator) hold locks a
                # forked child would inherit held.
                self._executor = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start,
                    initargs=(self._settings,),
                )
            return await asyncio.get_running_loop().run_in_executor(self._executor, work, *args)
        finally:
            self._admitted -= 1

    def _full(self) -> Unavailable:
        return Unavailable("too many large requests at once, retry later", headers=self._retry)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
