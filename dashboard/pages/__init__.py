"""The dashboard's HTML pages (docs/reference.md), a mounted app with its own HTML error pages.

Server-rendered with Jinja2; the only script is our own static file, which keeps open pages live
through server-sent events. Every router but the login page's is included behind
`require_login`, so the token wall holds for any page added to them.
"""

from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from dashboard.pages import alerts, health, login, logs, monitors, orders, overview
from dashboard.pages.common import TEMPLATES, LoginRequired, render, require_login
from store.errors import SentrailError
from web.errors import FastJSONResponse

MACHINE_PATHS = ("/api/", "/webhooks/")
PROTECTED = (
    overview.router,
    orders.router,
    health.router,
    monitors.router,
    logs.router,
    alerts.router,
)


async def to_login(request: Request, _exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target)}", status_code=303)


async def sentrail_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SentrailError)
    response = render(request, "error.html", exc.status_code, message=exc.detail, live=False)
    response.headers.update(exc.headers)
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if request.url.path.startswith(MACHINE_PATHS):
        # Machines (SDKs, scripts) get the API's answer even where no route matched.
        return FastJSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code)
    message = "No such page." if exc.status_code == 404 else str(exc.detail)
    return render(request, "error.html", exc.status_code, message=message, live=False)


async def bad_input(request: Request, _exc: Exception) -> Response:
    return render(request, "error.html", 400, message="That request is not valid.", live=False)


def create_pages_app() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=TEMPLATES.parent / "static"), name="static")
    app.add_exception_handler(LoginRequired, to_login)
    app.add_exception_handler(SentrailError, sentrail_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, bad_input)
    app.include_router(login.router)
    for router in PROTECTED:
        app.include_router(router, dependencies=[Depends(require_login)])
    return app
