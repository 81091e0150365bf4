"""The one error base of every package: each subclass carries the HTTP status it answers as.

Pure Python on purpose (the storage layer imports no web framework); the mapping to a response
lives in web/errors.py.
"""

from collections.abc import Mapping


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
