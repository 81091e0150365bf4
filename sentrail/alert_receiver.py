"""A local receiver of sentrail's signed alert webhooks: what the demo starts to show alerts
arriving, and what the tests check signatures with. It checks each delivery the way a real
receiver should (docs/reference.md#webhook-signatures): the HMAC over timestamp and body, a
timestamp not too old, a delivery id not seen before (delivery is at least once: a repeat of a
delivery it accepted is answered 200 and dropped).
"""

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

MAX_AGE = 300  # seconds a signed timestamp stays acceptable
MAX_BODY = 1 << 20


def verify(secret: str, headers: dict[str, str], body: bytes, now: float | None = None) -> bool:
    """True when `Sentrail-Signature` is the HMAC-SHA256 of `"{timestamp}." + body` under
    `secret` and the timestamp is within MAX_AGE seconds of now."""
    timestamp = headers.get("sentrail-timestamp", "")
    signature = headers.get("sentrail-signature", "")
    if not timestamp.isdigit() or not signature.startswith("sha256="):
        return False
    if abs((now if now is not None else time.time()) - int(timestamp)) > MAX_AGE:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(signature.removeprefix("sha256="), expected.hexdigest())


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    valid: bool  # signature checked and right (False without a secret, or unsigned: Slack)
    status: int  # what the receiver answered
    at: float = field(default_factory=time.time)  # when it arrived (Unix time)
    duplicate: bool = False  # a delivery id it had already accepted: answered, then dropped


@dataclass
class AlertReceiver:
    """An HTTP server on a free loopback port. `answer(path)` gives the status to reply with
    (default 200); `delay` seconds are waited before replying (a slow target)."""

    secret: str | None = None
    answer: Callable[[str], int] = lambda _path: 200
    delay: float = 0.0
    on_receive: Callable[[Received], None] | None = None  # told of each delivery, as it comes
    received: list[Received] = field(default_factory=list)
    arrived: int = 0  # requests begun (a slow target counts them before its delay)
    seen: set[str] = field(default_factory=set)  # delivery ids accepted (2xx)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
                raw = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.accept(self.path, headers, raw, self._reply)

            def _reply(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the demo and tests print what they need

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def accept(
        self, path: str, headers: dict[str, str], raw: bytes, reply: Callable[[int], None]
    ) -> None:
        with self._lock:
            self.arrived += 1
        if self.delay:
            time.sleep(self.delay)  # a slow target, on purpose
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = {"raw": raw.decode(errors="replace")}
        valid = bool(self.secret) and verify(self.secret or "", headers, raw)
        status = self.answer(path)
        if self.secret and "sentrail-delivery" in headers and not valid:
            status = 401  # a signed webhook whose signature is wrong or old
        delivery = headers.get("sentrail-delivery")
        with self._lock:
            duplicate = status < 300 and delivery is not None and delivery in self.seen
            if status < 300 and delivery is not None:
                self.seen.add(delivery)
            received = Received(path, headers, body, valid, status, duplicate=duplicate)
            self.received.append(received)
        reply(status)
        if self.on_receive is not None and not duplicate:
            self.on_receive(received)

    def notices(self, path: str | None = None) -> list[Received]:
        """What was accepted (2xx), in order, on `path` (any path when None); a repeated
        delivery once."""
        with self._lock:
            return [
                r
                for r in self.received
                if r.status < 300 and not r.duplicate and (path is None or r.path == path)
            ]

    def start(self) -> "AlertReceiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
