"""The token wall's door: the login form, login and logout (the only pages open to all)."""

import secrets
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dashboard.auth import COOKIE, session_value, token_of
from dashboard.pages.common import render

router = APIRouter()


def safe_target(target: str) -> str:
    """Only a path on this site: never `//host` or a scheme (an open redirect otherwise)."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", next=safe_target(next), live=False)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    given = form.get("token", [""])[0]
    target = safe_target(form.get("next", ["/"])[0])
    token = token_of(request)
    if token is None:
        return RedirectResponse(target, status_code=303)
    if not secrets.compare_digest(given.encode(), token.encode()):
        return render(request, "login.html", 401, next=target, failed=True, live=False)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        session_value(token),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=12 * 3600,
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
