"""The interactive API docs, `/docs`, and the schema, `/openapi.json`.

Swagger UI (5.x, which reads OpenAPI 3.1) comes from the `swagger-ui-py` package and is
served from our own path, `/docs/assets/`, under the same Content-Security-Policy as every
page: no CDN, no inline script (the page's one script of our own starts Swagger UI). With a
dashboard token set, both want it, like the read API: a Bearer token or the login cookie."""

import importlib.util
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from dashboard.auth import allowed
from store.errors import NotFound, Unauthorized
from web.errors import FastJSONResponse

OWN_STATIC = Path(__file__).parent / "static"


def swagger_ui_static() -> Path:
    """swagger-ui-py's copy of Swagger UI's dist files (found without importing the package,
    whose adapters for other web frameworks are not used here)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


SWAGGER_UI = swagger_ui_static()
# The only files served from /docs/assets/: name -> (file, media type).
ASSETS = {
    "swagger-ui.css": (SWAGGER_UI / "swagger-ui.css", "text/css"),
    "swagger-ui-bundle.js": (
        SWAGGER_UI / "swagger-ui-bundle.js",
        "text/javascript",
    ),
    "docs.js": (OWN_STATIC / "docs.js", "text/javascript"),
}
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sentrail API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" href="data:,">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/docs.js"></script>
</body>
</html>
"""


def docs_router(login_page: bool) -> APIRouter:
    """`login_page`: the dashboard's /login exists here (the dashboard role), so a browser
    without a session is sent there; elsewhere it gets 401."""
    router = APIRouter(include_in_schema=False)

    @router.get("/openapi.json")
    async def openapi(request: Request) -> Response:
        if not await run_in_threadpool(allowed, request):
            raise Unauthorized(
                "a valid Bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        return FastJSONResponse(request.app.openapi())

    @router.get("/docs")
    async def docs(request: Request) -> Response:
        if not await run_in_threadpool(allowed, request):
            if login_page:
                return RedirectResponse("/login?next=/docs", status_code=303)
            raise Unauthorized("a valid Bearer token is required")
        return HTMLResponse(PAGE)

    @router.get("/docs/assets/{name}")
    async def asset(name: str) -> Response:
        # Public like /static/: Swagger UI and our starter script, nothing of the API's.
        if name not in ASSETS:
            raise NotFound("no such file")
        path, media_type = ASSETS[name]
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "max-age=3600"})

    return router
