"""The token wall: with SENTRAIL_DASHBOARD_TOKEN set, the read API wants it as a Bearer token and
the pages want a session cookie, which the login page sets once the token is given."""

import hashlib
import hmac

from fastapi import Request

from dashboard.settings import DashboardSettings

COOKIE = "sentrail_session"


def session_value(token: str) -> str:
    """What the cookie holds: a MAC of the token, never the token itself."""
    return hmac.new(token.encode(), b"sentrail dashboard session", hashlib.sha256).hexdigest()


def token_of(request: Request) -> str | None:
    settings: DashboardSettings = request.state.dashboard_settings
    return settings.dashboard_token


def bearer_ok(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


def cookie_ok(request: Request, token: str) -> bool:
    given = request.cookies.get(COOKIE, "")
    return hmac.compare_digest(given.encode(), session_value(token).encode())


def allowed(request: Request) -> bool:
    token = token_of(request)
    return token is None or bearer_ok(request, token) or cookie_ok(request, token)
