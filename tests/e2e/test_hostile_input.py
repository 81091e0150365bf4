"""Hostile input against a real server: each request gets its 4xx, the server stays up, and
nothing is half-written."""

import gzip
import socket
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import brotli
import httpx
import orjson
import pytest
from sqlalchemy import func, select

from bench.server import Server, running_server
from store.engine import Database
from store.models import CorrelationKey, Event, Issue, SessionCount
from store.settings import DatabaseSettings
from tests.collector.envelopes import envelope_bytes, event
from tests.conftest import BACKENDS, ProjectKey, _factory, make_project
from tests.services import PostgresDatabases, SqliteDatabases

MiB = 1024 * 1024


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
    with running_server(url, log) as server, httpx.Client(base_url=server.url, timeout=60) as http:
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
