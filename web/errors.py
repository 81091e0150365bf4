"""The one handler that answers every `SentrailError` as `{"detail": ...}` with its status."""

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import JSONResponse

from store.errors import SentrailError


class FastJSONResponse(JSONResponse):
    """JSON rendered by orjson, datetimes as RFC 3339 with a `Z`."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS)


def error_response(exc: SentrailError) -> FastJSONResponse:
    return FastJSONResponse(
        {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
    )


async def handle_sentrail_error(_request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, SentrailError)
    return error_response(exc)


async def _handle_validation(_request: Request, exc: Exception) -> FastJSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(
        f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg', 'invalid')}"
        for error in exc.errors()
    )
    return FastJSONResponse({"detail": f"invalid request: {problems}"}, status_code=422)


def install_error_handler(app: FastAPI) -> None:
    app.add_exception_handler(SentrailError, handle_sentrail_error)
    app.add_exception_handler(RequestValidationError, _handle_validation)
