"""The token wall's door: the login form, login and logout (the only pages open to all)."""

import secrets
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from dashboard.auth import COOKIE, SESSION_LIFETIME, end_session, start_session, token_of
from dashboard.pages.common import render
from store.engine import Database
from store.errors import PayloadTooLarge

router = APIRouter()
# The form holds a token and a path: a few hundred bytes. Anything larger is refused before
# it is read (by its Content-Length, or as soon as the stream passes this).
MAX_LOGIN_BODY = 4 * 1024
# The rest of an oversized body is not waited for: the connection closes after the answer.
TOO_LARGE = {"Connection": "close"}


def safe_target(target: str) -> str:
    """Only a path on this site: never `//host` or a scheme (an open redirect otherwise)."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


async def read_capped(request: Request, limit: int = MAX_LOGIN_BODY) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the login form is at most {limit} bytes", headers=TOO_LARGE)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"the login form is at most {limit} bytes", headers=TOO_LARGE)
    return bytes(body)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", next=safe_target(next), live=False)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = parse_qs((await read_capped(request)).decode("utf-8", "replace"))
    given = form.get("token", [""])[0]
    target = safe_target(form.get("next", ["/"])[0])
    token = token_of(request)
    if token is None:
        return RedirectResponse(target, status_code=303)
    if not secrets.compare_digest(given.encode(), token.encode()):
        return render(request, "login.html", 401, next=target, failed=True, live=False)
    database: Database = request.state.database
    value = await run_in_threadpool(start_session, database, token)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        value,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=int(SESSION_LIFETIME.total_seconds()),
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    database: Database = request.state.database
    await run_in_threadpool(end_session, database, request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, httponly=True, samesite="strict")
    return response
