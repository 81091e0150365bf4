"""DSN authentication (docs/protocol.md#dsn-and-authentication): which public key a request carries.

Accepted, any one of: `X-Sentry-Auth: Sentry sentry_key=…`, `Authorization: Sentry …`, the
`sentry_key` query parameter, and the envelope header `dsn`. When several are given they must
agree.
"""

import re
import threading
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from store.engine import Database
from store.errors import Forbidden, Unauthorized, Unavailable
from store.models import Project

KEY_RE = re.compile(r"^[0-9a-zA-Z]{1,64}$")


def parse_auth_header(value: str) -> dict[str, str]:
    """`Sentry sentry_key=<pk>, sentry_version=7, …` (the prefix is case-insensitive)."""
    value = value.strip()
    if value[:7].lower() == "sentry ":
        value = value[7:]
    fields: dict[str, str] = {}
    for part in value.split(","):
        name, sep, field_value = part.strip().partition("=")
        if sep:
            fields[name.strip().lower()] = field_value.strip()
    return fields


def keys_from_request(headers: Mapping[str, str], query: Mapping[str, str]) -> set[str]:
    keys: set[str] = set()
    for header in ("x-sentry-auth", "authorization"):
        value = headers.get(header)
        if value and (header == "x-sentry-auth" or value.lower().startswith("sentry ")):
            key = parse_auth_header(value).get("sentry_key")
            if key is not None:
                keys.add(key)
    if query.get("sentry_key"):
        keys.add(query["sentry_key"])
    return keys


def key_from_dsn(dsn: object, project_id: int) -> str | None:
    if dsn is None:
        return None
    if not isinstance(dsn, str):
        raise Unauthorized("envelope dsn must be a string")
    parts = urlsplit(dsn)
    if not parts.username or parts.path.rstrip("/").rsplit("/", 1)[-1] != str(project_id):
        raise Unauthorized("envelope dsn does not name this project")
    return parts.username


def single_key(keys: set[str]) -> str:
    if not keys:
        raise Unauthorized("missing authentication: no sentry_key given")
    if len(keys) > 1:
        raise Unauthorized("conflicting sentry_key values")
    key = next(iter(keys))
    if not KEY_RE.match(key):
        raise Unauthorized("malformed sentry_key")
    return key


class ProjectKeys:
    """Project id → public key, cached so the ingest path does not query per request.

    An unknown id reloads the table at most once a second, so new projects show up at once
    while a flood of bad ids cannot hammer the database.
    """

    RELOAD_EVERY = 1.0

    def __init__(self, database: Database) -> None:
        self._database = database
        self._keys: dict[int, str] = {}
        self._projects: dict[str, int] = {}  # the other way round, for the plain OTLP paths
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def check(self, project_id: int, key: str) -> None:
        """Runs in a worker thread: may read the database."""
        expected = self._keys.get(project_id)
        if expected is None:
            self._reload()
            expected = self._keys.get(project_id)
        if expected is None:
            raise Forbidden(f"unknown project {project_id}")
        if expected != key:
            raise Forbidden("invalid sentry_key for this project")

    def knows(self, project_id: int, key: str) -> bool:
        return self._keys.get(project_id) == key

    def known_project(self, key: str) -> int | None:
        """The project of a public key, if the cache has it."""
        return self._projects.get(key)

    def project_of(self, key: str) -> int:
        """Runs in a worker thread: the project whose public key `key` is (the plain OTLP
        paths name no project)."""
        found = self._projects.get(key)
        if found is None:
            self._reload()
            found = self._projects.get(key)
        if found is None:
            raise Forbidden("unknown sentry_key")
        return found

    def _reload(self) -> None:
        with self._lock:
            if time.monotonic() - self._loaded_at < self.RELOAD_EVERY:
                return
            try:
                with self._database.sessions() as session:
                    rows = session.execute(select(Project.id, Project.public_key)).all()
            except SQLAlchemyError as exc:
                raise Unavailable(
                    f"database unavailable: {type(exc).__name__}", headers={"Retry-After": "5"}
                ) from None
            self._keys = {row.id: row.public_key for row in rows}
            self._projects = {row.public_key: row.id for row in rows}
            self._loaded_at = time.monotonic()
