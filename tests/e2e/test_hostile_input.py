"""Hostile input against a real server: each request gets its 4xx, the server stays up, and
nothing is half-written."""

import gzip
import hashlib
import hmac
import socket
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import brotli
import httpx
import orjson
import pytest
from sqlalchemy import func, select

from bench import webhook_payloads as sp
from bench.server import Server, running_server
from collector.limits import MAX_DEPTH, MAX_SCANNED_TEXT, TRIMMED
from store.engine import Database
from store.models import CorrelationKey, Event, Issue, SessionCount
from store.settings import DatabaseSettings
from tests.collector.envelopes import envelope_bytes, event
from tests.collector.test_scrub import every_stored_text
from tests.conftest import BACKENDS, ProjectKey, _factory, make_project
from tests.services import PostgresDatabases, SqliteDatabases

MiB = 1024 * 1024
WEBHOOK_SECRET = "hostile-client-secret"


@dataclass
class Target:
    server: Server
    project: ProjectKey
    database_url: str
    http: httpx.Client

    def envelope(
        self,
        body: bytes,
        headers: dict[str, str] | None = None,
        project_id: int | str | None = None,
    ) -> httpx.Response:
        return self.http.post(
            f"/api/{project_id or self.project.id}/envelope/",
            content=body,
            headers={**self.project.auth, **(headers or {})},
        )


@pytest.fixture(scope="module", params=BACKENDS)
def target(
    request: pytest.FixtureRequest,
    _factories: dict[str, SqliteDatabases | PostgresDatabases | str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Target]:
    url = _factory(_factories, request.param).fresh()
    database = Database(DatabaseSettings(database_url=url))
    project = make_project(database)
    database.dispose()
    log = tmp_path_factory.mktemp("hostile") / "server.log"
    env = {"SENTRAIL_SENTRY_CLIENT_SECRET": WEBHOOK_SECRET}
    with (
        running_server(url, log, extra_env=env) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        yield Target(server, project, url, http)


def gzip_bomb(decompressed: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    chunk = b"\x00" * MiB
    out = [compressor.compress(chunk) for _ in range(decompressed // MiB)]
    return b"".join(out) + compressor.flush()


def good() -> bytes:
    return envelope_bytes(event(tags={"order_id": "o-1"}))


CASES: dict[str, tuple[int, dict[str, object]]] = {
    "missing auth": (401, {"headers": {"X-Sentry-Auth": ""}}),
    "bad key": (403, {"headers": {"X-Sentry-Auth": "Sentry sentry_key=0123456789abcdef"}}),
    "unknown project": (403, {"project_id": 999999}),
    "non-numeric project": (404, {"project_id": "abc"}),
    "empty body": (400, {"body": b""}),
    "non-JSON envelope header": (400, {"body": b'hello\n{"type":"event"}\n{}'}),
    "non-JSON item header": (400, {"body": b"{}\n{type: event}\n{}"}),
    "truncated event payload": (400, {"body": b'{}\n{"type":"event"}\n{"message": "hel'}),
    "length past the end": (400, {"body": b'{}\n{"type":"event","length":5000}\n{"a":1}'}),
    "corrupt gzip": (400, {"body": b"\x1f\x8b\x08\x00garbage", "encoding": "gzip"}),
    "truncated gzip": (400, {"body": gzip.compress(b"x" * 10_000)[:40], "encoding": "gzip"}),
    "corrupt deflate": (400, {"body": b"\x78\x9cgarbage!", "encoding": "deflate"}),
    "corrupt br": (400, {"body": b"\xff\xff\xffnot brotli", "encoding": "br"}),
    "300 MiB gzip bomb": (413, {"body": gzip_bomb(300 * MiB), "encoding": "gzip"}),
    "event over 1 MiB": (413, {"body": envelope_bytes(event(message="x" * (MiB + 10)))}),
    "event over 1 MiB, brotli": (
        413,
        {
            "body": brotli.compress(envelope_bytes(event(extra={"x": "y" * (2 * MiB)}))),
            "encoding": "br",
        },
    ),
    "deeply nested JSON": (
        400,
        {"body": b'{}\n{"type":"event"}\n' + b'{"a":' * 3000 + b"1" + b"}" * 3000},
    ),
    "invalid UTF-8": (400, {"body": b'{}\n{"type":"event"}\n{"message":"\xff\xfe"}'}),
    "non-object event": (400, {"body": b'{}\n{"type":"event"}\n[1,2,3]'}),
    "string event": (400, {"body": b'{}\n{"type":"event"}\n"hello"'}),
    "bad event_id": (400, {"body": envelope_bytes(event(event_id="zz-not-hex"))}),
    "two events": (400, {"body": envelope_bytes(event(), event())}),
    "body over the cap": (413, {"body": b"{}\n" + b" " * (21 * MiB)}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_hostile_request_gets_its_4xx(target: Target, case: str) -> None:
    status, spec = CASES[case]
    body = spec.get("body", good())
    headers = dict(spec.get("headers", {}))  # type: ignore[call-overload]
    if "encoding" in spec:
        headers["Content-Encoding"] = str(spec["encoding"])
    response = target.envelope(body, headers, spec.get("project_id"))  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    assert isinstance(response.json()["detail"], str)
    assert target.http.get("/healthz").status_code == 200


def test_store_endpoint_garbage(target: Target) -> None:
    for body in (b"", b"%%%", b"[1]", base64_of(b"\x00\x01zlib?"), b'{"message": "\xff"}'):
        response = target.http.post(
            f"/api/{target.project.id}/store/", content=body, headers=target.project.auth
        )
        assert response.status_code == 400, (body, response.text)


def base64_of(data: bytes) -> bytes:
    import base64

    return base64.b64encode(data)


def test_a_malformed_session_item_is_dropped_not_fatal(target: Target) -> None:
    body = b'{}\n{"type":"session"}\n{"status": 5}\n{"type":"sessions"}\nnot json\n'
    response = target.envelope(body)
    assert response.status_code == 200 and response.json() == {}


def test_nothing_half_written_and_still_serving(target: Target) -> None:
    """Runs after the hostile cases in this module (pytest keeps file order)."""
    database = Database(DatabaseSettings(database_url=target.database_url))
    try:
        with database.sessions() as session:
            for model in (Event, Issue, CorrelationKey, SessionCount):
                assert session.scalar(select(func.count()).select_from(model)) == 0, model
    finally:
        database.dispose()
    sent = event(tags={"order_id": "o-1"})
    response = target.envelope(envelope_bytes(sent))
    assert response.status_code == 200
    stored = target.http.get(f"/api/v1/events/{sent['event_id']}").json()
    assert stored["keys"] == {"order_id": ["o-1"]}
    assert orjson.loads(orjson.dumps(stored["payload"]))["event_id"] == sent["event_id"]


def test_non_ascii_digits_in_content_length_and_cursor(target: Target) -> None:
    response = target.http.get("/api/v1/issues", params={"cursor": "¹"})
    assert response.status_code == 400
    host, port = target.server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST /api/{target.project.id}/envelope/ HTTP/1.1\r\nHost: x\r\n".encode()
            + b"Content-Length: \xb9\r\n\r\n"
        )
        status = sock.recv(100).split(b" ")[1]
    assert status.startswith(b"4")
    assert target.http.get("/healthz").status_code == 200


# The cases below store events: they run after test_nothing_half_written_and_still_serving.


def _timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started


def test_a_format_bomb_is_formatted_within_bounds(target: Target) -> None:
    """Finding 1: `%(a)100000000s` repeated in a 252-byte event made the server allocate
    ~1 GB and stop answering for ~30 s."""
    bomb = event(logentry={"message": "%(a)100000000s" * 12, "params": {"a": "x"}})
    braces = event(logentry={"message": "{:>100000000}{0:>100000000}", "params": ["x"]})
    star = event(logentry={"message": "%*s|%.*f", "params": [10**9, "y", 10**9, 1.5]})
    for sent in (bomb, braces, star):
        assert len(orjson.dumps(sent["logentry"])) < 300
        response, took = _timed(lambda: target.envelope(envelope_bytes(sent)))  # noqa: B023
        assert response.status_code == 200, response.text
        assert took < 3, took
        health, took = _timed(lambda: target.http.get("/healthz"))
        assert health.status_code == 200 and took < 1, took
        stored = target.http.get(f"/api/v1/events/{sent['event_id']}").json()
        assert len(stored["message"]) <= MAX_SCANNED_TEXT
    stored = target.http.get(f"/api/v1/events/{bomb['event_id']}").json()
    assert stored["message"].strip(" ").startswith("x")  # widths clamped, not dropped
    assert target.http.get(f"/api/v1/events/{braces['event_id']}").json()["message"] == (
        "{:>100000000}{0:>100000000}"
    )


def test_a_long_message_is_grouped_in_linear_time(target: Target) -> None:
    """Finding 2: a 50,000-character message without an exception stalled the event loop
    ~5 s in the grouping regexes (an unanchored `[\\w.+-]+@`)."""
    for message in ("a" * 50_000, "a." * 25_000, "a" * (MiB - 4096), "password" * 6_000):
        sent = event(message=message)
        response, took = _timed(lambda: target.envelope(envelope_bytes(sent)))  # noqa: B023
        assert response.status_code == 200, response.text
        assert took < 2, (len(message), took)
        health, took = _timed(lambda: target.http.get("/healthz"))
        assert health.status_code == 200 and took < 1


NESTED = "__nested__"


def _with_nesting(sent: dict[str, object], depth: int, leaf: object) -> bytes:
    """The envelope of `sent` with `depth` levels of objects around `leaf` where the string
    NESTED stands, written by hand (orjson and json write a few hundred levels at most)."""
    nested = b'{"a":' * depth + orjson.dumps(leaf) + b"}" * depth
    payload = orjson.dumps(sent).replace(orjson.dumps(NESTED), nested)
    return b'{}\n{"type":"event"}\n' + payload + b"\n"


@pytest.mark.parametrize("depth", [100, 300, 1000])
def test_deep_nesting_is_trimmed_once_at_ingest(target: Target, depth: int) -> None:
    """Finding 4: with 256-1,024 levels ingest answered 500 when a sensitive key was inside,
    and past ~254 an accepted event broke the order, trace and event pages for good."""
    order, trace = f"deep-{depth}", uuid.uuid4().hex
    sent = event(
        tags={"order_id": order},
        contexts={"trace": {"trace_id": trace, "span_id": "b" * 16}},
        extra={"deep": NESTED},
    )
    body = _with_nesting(sent, depth, {"password": "deep-secret", "card": "4111111111111111"})
    assert body.count(b'{"a":') == depth
    response = target.envelope(body)
    assert response.status_code == 200, response.text
    stored = target.http.get(f"/api/v1/events/{sent['event_id']}")
    assert stored.status_code == 200
    payload = orjson.dumps(stored.json()["payload"])
    assert TRIMMED.encode() in payload and b"deep-secret" not in payload
    for path in (f"/api/v1/traces/{trace}", f"/traces/{trace}"):
        assert target.http.get(path).status_code == 200, path
    deadline = time.monotonic() + 30
    while target.http.get(f"/api/v1/orders/{order}").status_code != 200:
        assert time.monotonic() < deadline, "the correlator never showed the order"
        time.sleep(0.2)  # the correlator runs beside the collector, polling
    for path in (f"/api/v1/orders/{order}", f"/orders/{order}"):
        assert target.http.get(path).status_code == 200, path


def test_deep_nesting_in_a_webhook_is_trimmed(target: Target) -> None:
    error = sp.event()
    error["extra"] = {"deep": NESTED}
    body, headers = sp.signed(sp.envelope("created", {"error": error}), "error", WEBHOOK_SECRET)
    nested = b'{"a":' * 600 + b'{"password":"hook-deep-secret"}' + b"}" * 600
    body = body.replace(orjson.dumps(NESTED), nested)
    headers["Sentry-Hook-Signature"] = hmac.new(
        WEBHOOK_SECRET.encode(), body, hashlib.sha256
    ).hexdigest()
    response = target.http.post("/webhooks/sentry", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert MAX_DEPTH < 600
    listed = target.http.get("/api/v1/webhooks/deliveries").json()
    assert listed and target.http.get("/api/v1/issues").status_code == 200


CARD = "4111111111111111"
FULL_WIDTH_CARD = CARD.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
# Each text and the part of it that must be stored nowhere.
CORPUS = [
    ("access_token=AT-corpus-1", "AT-corpus-1"),
    ("db_password=DBPW-corpus-2", "DBPW-corpus-2"),
    ("client_secret=CS-corpus-3", "CS-corpus-3"),
    ("api-key: AK-corpus-4", "AK-corpus-4"),
    ("X-Api-Key: XAK-corpus-5", "XAK-corpus-5"),
    ("then Authorization: Bearer BEARER-corpus-6 was sent", "BEARER-corpus-6"),
    ("token Bearer BARE-corpus-7", "BARE-corpus-7"),
    ('{"password": "JSONPW-corpus-8"}', "JSONPW-corpus-8"),
    ("{'password': 'REPRPW-corpus-9'}", "REPRPW-corpus-9"),
    ("postgres://shop:URLPW-corpus-10@db.internal:5432/shop", "URLPW-corpus-10"),
    (f"abc{CARD}xyz", CARD),
    ("4111.1111.1111.1111", "4111.1111.1111.1111"),
    (FULL_WIDTH_CARD, FULL_WIDTH_CARD),
    ("5500 0000 0000 0004", "5500 0000 0000 0004"),
]
KEY_CARD = "5105105105105100"
ORDER_UUID = "7dc8115f-d0af-46b2-4111-111111111111"  # ends in 16 Luhn-valid digits


def _raw_envelope(*items: tuple[str, object]) -> bytes:
    lines = [b"{}"]
    for kind, payload in items:
        lines += [orjson.dumps({"type": kind}), orjson.dumps(payload)]
    return b"\n".join(lines) + b"\n"


def test_the_card_and_secret_corpus_is_stored_nowhere(target: Target) -> None:
    """Finding 3: every format, by every way in (event, transaction, breadcrumbs, extra,
    client report, session, unknown item, webhook), then nowhere in the database, blobs
    decompressed; an order id that ends in 16 Luhn-valid digits survives."""
    texts = [text for text, _ in CORPUS]
    joined = " | ".join(texts)
    sent = event(
        message=joined,
        tags={"order_id": ORDER_UUID, "note": texts[0]},
        extra={f"e{i}": text for i, text in enumerate(texts)} | {KEY_CARD: "card as a key"},
        breadcrumbs={
            "values": [{"category": "c", "message": text, "data": {"t": text}} for text in texts]
        },
        exception={"values": [{"type": "ValueError", "value": joined}]},
        request={"url": texts[9], "data": joined, "headers": [["X-Api-Key", "XAK-corpus-5"]]},
    )
    transaction = event(
        type="transaction",
        transaction="/checkout",
        start_timestamp="2026-11-27T09:59:59Z",
        extra={"t": joined},
        spans=[{"description": text, "op": "db"} for text in texts],
    )
    for body in (envelope_bytes(sent), envelope_bytes(transaction)):
        response = target.envelope(body)
        assert response.status_code == 200, response.text
    reports = [{"reason": text, "category": text, "quantity": 1} for text in texts]
    session = {
        "sid": uuid.uuid4().hex,
        "did": CARD,
        "init": True,
        "started": "2026-11-27T10:00:00Z",
        "status": "ok",
        "attrs": {"release": f"r-{texts[1]}", "environment": texts[9]},
    }
    aggregates = {
        "attrs": {"release": f"r-{texts[0]}", "environment": "prod"},
        "aggregates": [{"started": "2026-11-27T10:00:00Z", "exited": 1, "did": texts[10]}],
    }
    body = _raw_envelope(
        ("client_report", {"discarded_events": reports}),
        ("session", session),
        ("sessions", aggregates),
        (f"x-{CARD}", {}),
        (f"x-{texts[0]}", {}),
    )
    response = target.envelope(body)
    assert response.status_code == 200, response.text
    error = sp.event()
    error["extra"] = {f"e{i}": text for i, text in enumerate(texts)} | {KEY_CARD: "key"}
    error["message"] = joined
    payload = sp.envelope("created", {"error": error})
    payload["action"] = texts[0]
    hook, headers = sp.signed(payload, "error", WEBHOOK_SECRET, request_id=CARD)
    response = target.http.post("/webhooks/sentry", content=hook, headers=headers)
    assert response.status_code == 200, response.text

    database = Database(DatabaseSettings(database_url=target.database_url))
    try:
        stored = every_stored_text(database)
    finally:
        database.dispose()
    for _, secret in CORPUS:
        assert secret not in stored, secret
    for secret in (KEY_CARD, CARD):
        assert secret not in stored, secret
    assert ORDER_UUID in stored
    detail = target.http.get(f"/api/v1/events/{sent['event_id']}").json()
    assert detail["keys"]["order_id"] == [ORDER_UUID]


def test_a_large_event_is_stored_as_a_small_one_would_be(target: Target) -> None:
    """Large requests are read in the lane's own process (collector/lanes.py), with the same
    settings and rules: scrubbed, keyed, grouped, stored."""
    order = "4f6b2a1c-3d5e-4f70-8a9b-0c1d2e3f4a5b"
    padding = "lorem ipsum " * 20_000  # ~240 KB: well past the lane's threshold
    for compressed in (False, True):
        sent = event(
            message=f"validation failed for order [{order}] : card 4111 1111 1111 1111 {padding}",
            extra={"password": "hunter2"},
        )
        body = envelope_bytes(sent)
        assert len(body) > 64 * 1024
        if compressed:
            response = target.envelope(gzip.compress(body), {"Content-Encoding": "gzip"})
        else:
            response = target.envelope(body)
        assert response.status_code == 200, response.text
        stored = target.http.get(f"/api/v1/events/{sent['event_id']}").json()
        assert "4111 1111 1111 1111" not in stored["message"]
        assert stored["message"].startswith(f"validation failed for order [{order}]")
        assert stored["payload"]["extra"]["password"] == "[Filtered]"
        assert stored["keys"]["order_id"] == [order]
        assert stored["issue_id"] is not None
