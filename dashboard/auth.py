"""The token wall: with SENTRAIL_DASHBOARD_TOKEN set, the read API wants it as a Bearer token and
the pages want a session cookie, which the login page sets once the token is given.

Sessions live in the database (`dashboard_session`), so every worker and every dashboard
replica sees the same ones: each login makes a new random value (the cookie), the server checks
its expiry on every request, logout deletes it, and a session made with another token (the
token was rotated) is refused."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from fastapi import Request
from sqlalchemy import delete, insert

from dashboard.settings import DashboardSettings
from store.clock import utcnow
from store.engine import Database
from store.models import DashboardSession

COOKIE = "sentrail_session"
SESSION_LIFETIME = timedelta(hours=12)
MAX_COOKIE_LENGTH = 128  # token_urlsafe(32) is 43 characters


def token_mac(token: str) -> str:
    """What a session keeps of the token it was made with: a MAC, never the token itself."""
    return hmac.new(token.encode(), b"sentrail dashboard session", hashlib.sha256).hexdigest()


def _id_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def start_session(database: Database, token: str) -> str:
    """A new session for `token`; returns the cookie's value. Ended sessions are swept here."""
    value = secrets.token_urlsafe(32)
    now = utcnow()
    with database.writing() as connection, connection.begin():
        connection.execute(delete(DashboardSession).where(DashboardSession.expires_at <= now))
        connection.execute(
            insert(DashboardSession).values(
                id_hash=_id_hash(value),
                token_mac=token_mac(token),
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
    return value


def end_session(database: Database, value: str) -> None:
    if not value or len(value) > MAX_COOKIE_LENGTH:
        return
    with database.writing() as connection, connection.begin():
        connection.execute(
            delete(DashboardSession).where(DashboardSession.id_hash == _id_hash(value))
        )


def session_valid(database: Database, value: str, token: str) -> bool:
    """The session exists, has not expired, and was made with the current token."""
    if not value or len(value) > MAX_COOKIE_LENGTH:
        return False
    with database.sessions() as session:
        found = session.get(DashboardSession, _id_hash(value))
    return (
        found is not None
        and found.expires_at > utcnow()
        and hmac.compare_digest(found.token_mac, token_mac(token))
    )


def token_of(request: Request) -> str | None:
    settings: DashboardSettings = request.state.dashboard_settings
    return settings.dashboard_token


def bearer_ok(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


def cookie_ok(request: Request, token: str) -> bool:
    """Reads the database: call it from a thread (sync dependencies run in one)."""
    database: Database = request.state.database
    return session_valid(database, request.cookies.get(COOKIE, ""), token)


def allowed(request: Request) -> bool:
    token = token_of(request)
    return token is None or bearer_ok(request, token) or cookie_ok(request, token)
