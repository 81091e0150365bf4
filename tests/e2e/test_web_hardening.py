"""A real `sentrail serve` behind a dashboard token, under a security review's attacks: request
heads over the cap, an oversized login form, sessions, and the API docs behind the token."""

import contextlib
import re
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from bench.server import Server, running_server
from sentrail.http import MAX_HEAD_BYTES
from tests.services import SqliteDatabases

TOKEN = "a-dashboard-token-for-tests"
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("hardening")
    databases = SqliteDatabases(root)
    databases.setup()
    env = {"SENTRAIL_DASHBOARD_TOKEN": TOKEN}
    with running_server(databases.fresh(), root / "server.log", extra_env=env) as running:
        yield running


def exchange(server: Server, head: bytes, body: bytes = b"", *, timeout: float = 10) -> bytes:
    """Sends `head` and `body` on a new connection and returns what comes back until the
    server closes it: b"" when it closed without a word. A server still holding the connection
    open after `timeout` fails the test (it is waiting for more of what it should refuse)."""
    address = urlsplit(server.url)
    with socket.create_connection((address.hostname, address.port), timeout=timeout) as sock:
        # The server may stop reading and close: what it answered is still in our buffer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head + body)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
        except TimeoutError:
            pytest.fail(f"the server kept the connection open; it sent {received[:200]!r}")
        return received


def status_of(answer: bytes) -> int | None:
    found = re.match(rb"HTTP/1\.1 (\d{3}) ", answer)
    return int(found.group(1)) if found else None


def healthy(server: Server) -> bool:
    return httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        b"X-Big: " + b"a" * MiB + b"\r\n\r\n",  # one 1 MiB header
        b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 50) for i in range(20_000)) + b"\r\n",
        b"X-Endless: " + b"c" * (4 * MiB),  # a header that never ends
    ],
    ids=["one-1MiB-header", "20000-headers", "never-ending-header"],
)
def test_a_request_head_over_the_cap_is_refused(server: Server, headers: bytes) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers
    answer = exchange(server, head)
    assert answer == b"" or status_of(answer) == 431, answer[:200]
    assert healthy(server)


def test_a_url_over_the_cap_is_refused(server: Server) -> None:
    answer = exchange(server, b"GET /healthz?" + b"q" * MiB + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer == b"" or status_of(answer) in (414, 431), answer[:200]
    assert healthy(server)


def test_heads_under_the_cap_and_keep_alive_still_work(server: Server) -> None:
    big_but_fine = {"X-Fine": "d" * (MAX_HEAD_BYTES // 2)}
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for _ in range(50):  # one connection: the count starts again with each request
            assert http.get("/healthz", headers=big_but_fine).status_code == 200


def test_a_1mib_login_body_is_refused_unread(server: Server) -> None:
    head = (
        b"POST /login HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: %d\r\n\r\n" % MiB
    )
    # Only the first KiB of the megabyte is ever sent: the answer comes anyway.
    answer = exchange(server, head, b"token=" + b"x" * 1024)
    assert status_of(answer) == 413, answer[:300]
    chunked = b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    piece = b"x" * 1024
    body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(8))  # 8 KiB, no end
    assert status_of(exchange(server, chunked, body)) == 413
    assert healthy(server)


def test_sessions_on_a_real_server(server: Server) -> None:
    def login() -> str:
        response = httpx.post(
            f"{server.url}/login", data={"token": TOKEN, "next": "/services"}, timeout=10
        )
        assert response.status_code == 303
        return response.cookies["sentrail_session"]

    first, second = login(), login()
    assert first != second

    def services(cookie: str) -> int:
        headers = {"cookie": f"sentrail_session={cookie}"}
        return httpx.get(f"{server.url}/services", headers=headers, timeout=10).status_code

    assert services(first) == 200
    headers = {"cookie": f"sentrail_session={first}"}
    assert httpx.post(f"{server.url}/logout", headers=headers, timeout=10).status_code == 303
    assert services(first) == 303 and services(second) == 200


def test_the_api_docs_want_the_token_and_load_nothing_from_elsewhere(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/openapi.json").status_code == 401
        docs = http.get("/docs")
        assert docs.status_code == 303 and docs.headers["location"] == "/login?next=/docs"
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert http.get("/openapi.json", headers=bearer).json()["info"]["title"] == "sentrail"
        assert http.post("/login", data={"token": TOKEN}).status_code == 303  # the cookie
        page = http.get("/docs")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(s.startswith(("/docs/assets/", "data:")) for s in sources)
        assert "<script>" not in page.text  # no inline script
        for source in sources[:-1] if sources[-1].startswith("data:") else sources:
            if source.startswith("/"):
                asset = http.get(source)
                assert asset.status_code == 200 and len(asset.content) > 100, source
        assert http.get("/docs/assets/index.html").status_code == 404  # only the listed files
        assert http.get("/redoc").status_code == 404
