"""One error base for every package, answered as `{"detail": ...}` with its 4xx by one handler."""

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    """JSON rendered by orjson, datetimes as RFC 3339 with a `Z`."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS)


class SentrailError(Exception):
    status_code = 400

    def __init__(self, detail: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})


class BadRequest(SentrailError):
    status_code = 400


class Unauthorized(SentrailError):
    status_code = 401


class Forbidden(SentrailError):
    status_code = 403


class NotFound(SentrailError):
    status_code = 404


class PayloadTooLarge(SentrailError):
    status_code = 413


class TooManyRequests(SentrailError):
    status_code = 429


class Unavailable(SentrailError):
    status_code = 503


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
