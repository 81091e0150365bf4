"""Dashboard sessions (a security review's findings): a new random session per login, kept and
expired on the server, ended by logout, revoked by a new token; the login form's size capped."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from collector.settings import CollectorSettings
from dashboard.auth import COOKIE
from dashboard.settings import DashboardSettings
from sentrail.app import create_app
from store.clock import utcnow
from store.engine import Database
from store.models import DashboardSession
from store.settings import DatabaseSettings
from tests.conftest import ProjectKey

TOKEN = "a-dashboard-token-for-tests"
NEW_TOKEN = "the-rotated-dashboard-token"


def walled_client(database_url: str, token: str) -> TestClient:
    app = create_app(
        DatabaseSettings(database_url=database_url),
        CollectorSettings(),
        DashboardSettings(dashboard_token=token),
    )
    return TestClient(app, follow_redirects=False, base_url="https://testserver")


@pytest.fixture
def walled(database_url: str, project: ProjectKey) -> Iterator[TestClient]:
    with walled_client(database_url, TOKEN) as client:
        yield client


def login(client: TestClient, token: str = TOKEN) -> str:
    client.cookies.clear()
    response = client.post("/login", data={"token": token, "next": "/services"})
    assert response.status_code == 303, response.text
    client.cookies.clear()  # each test passes its cookie explicitly
    value: str = response.cookies[COOKIE]
    return value


def sent(cookie: str) -> dict[str, str]:
    return {"cookie": f"{COOKIE}={cookie}"}


def page_with(client: TestClient, cookie: str, path: str = "/services") -> int:
    client.cookies.clear()
    status = client.get(path, headers=sent(cookie)).status_code
    client.cookies.clear()
    return status


def test_each_login_gets_its_own_random_session(walled: TestClient, database: Database) -> None:
    first, second = login(walled), login(walled)
    assert first != second and len(first) >= 40
    assert TOKEN not in first
    assert page_with(walled, first) == 200 and page_with(walled, second) == 200
    with database.sessions() as session:
        stored = set(session.scalars(select(DashboardSession.id_hash)))
    assert len(stored) == 2 and first not in stored and second not in stored  # hashes only


def test_the_cookie_is_httponly_strict_and_secure_on_https(walled: TestClient) -> None:
    response = walled.post("/login", data={"token": TOKEN})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie


def test_logout_ends_the_session_on_the_server(walled: TestClient) -> None:
    cookie, other = login(walled), login(walled)
    walled.cookies.clear()
    response = walled.post("/logout", headers=sent(cookie))
    assert response.status_code == 303
    assert page_with(walled, cookie) == 303  # replaying the old cookie: back to the login
    assert walled.get("/api/v1/services", headers=sent(cookie)).status_code == 401
    assert page_with(walled, other) == 200  # another login is untouched


def test_a_new_token_revokes_every_session(
    walled: TestClient, database_url: str, project: ProjectKey
) -> None:
    cookie = login(walled)
    with walled_client(database_url, NEW_TOKEN) as rotated:
        assert page_with(rotated, cookie) == 303
        assert rotated.get("/api/v1/services", headers=sent(cookie)).status_code == 401
        fresh = login(rotated, NEW_TOKEN)
        assert page_with(rotated, fresh) == 200
    assert page_with(walled, cookie) == 200  # the old token's server still knows its own


def test_an_expired_session_is_refused(walled: TestClient, database: Database) -> None:
    cookie = login(walled)
    with database.sessions.begin() as session:
        session.execute(update(DashboardSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert page_with(walled, cookie) == 303
    assert walled.get("/api/v1/services", headers=sent(cookie)).status_code == 401
    login(walled)  # a login sweeps ended sessions away
    with database.sessions() as session:
        assert len(list(session.scalars(select(DashboardSession)))) == 1


def test_made_up_cookies_are_refused(walled: TestClient) -> None:
    for cookie in ("", "x", "a" * 43, "z" * 10_000, TOKEN):
        assert page_with(walled, cookie) == 303


def test_the_bearer_token_still_opens_the_api(walled: TestClient) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert walled.get("/api/v1/services", headers=bearer).status_code == 200


def test_a_large_login_body_is_refused(walled: TestClient) -> None:
    big = b"token=" + b"x" * (1024 * 1024)
    assert walled.post("/login", content=big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused as the stream passes 4 KiB
        yield b"token=" + TOKEN.encode()
        for _ in range(1000):
            yield b"&pad=" + b"x" * 1000

    response = walled.post("/login", content=chunks())
    assert response.status_code == 413 and COOKIE not in response.cookies
