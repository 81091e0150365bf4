"""The real PostgreSQL and Redis the suite runs against: fresh migrated databases for each
test, an emptied Redis database for each shop test.

Where a service is not running (a laptop), its tests skip with the reason; with CI=true a
missing service fails the run instead.
"""

import os
import random
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from redis import Redis
from redis.exceptions import RedisError

from store import migrations

POSTGRES_ADMIN_URL = os.environ.get(
    "SENTRAIL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def _sqlalchemy_url(dbname: str) -> str:
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{dbname}"


def postgres_unavailable() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can."""
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable ({str(exc).strip()[:120]})"


def require_postgres(reason: str | None) -> None:
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


class PostgresDatabases:
    """Migrates one template database, then clones it for each test (fast, isolated)."""

    def __init__(self) -> None:
        self.prefix = f"sentrail_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.template = f"{self.prefix}_template"
        self.created: list[str] = []

    def _admin(self, sql: str) -> None:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
            connection.execute(sql)  # type: ignore[arg-type]

    def setup(self) -> None:
        self._admin(f'CREATE DATABASE "{self.template}"')
        self.created.append(self.template)
        migrations.upgrade(_sqlalchemy_url(self.template))

    def fresh(self) -> str:
        name = f"{self.prefix}_{len(self.created)}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)
        return _sqlalchemy_url(name)

    def empty(self) -> str:
        name = f"{self.prefix}_{len(self.created)}"
        self._admin(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return _sqlalchemy_url(name)

    def teardown(self) -> None:
        for name in reversed(self.created):
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class SqliteDatabases:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.template = root / "template.db"
        self.count = 0

    def setup(self) -> None:
        migrations.upgrade(f"sqlite:///{self.template}")

    def fresh(self) -> str:
        self.count += 1
        path = self.root / f"db{self.count}.db"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"

    def empty(self) -> str:
        self.count += 1
        return f"sqlite:///{self.root / f'db{self.count}.db'}"


def database_factories(tmp: Path) -> Iterator[dict[str, SqliteDatabases | PostgresDatabases | str]]:
    sqlite = SqliteDatabases(tmp)
    sqlite.setup()
    reason = postgres_unavailable()
    postgres: PostgresDatabases | str
    if reason is None:
        postgres = PostgresDatabases()
        postgres.setup()
    else:
        postgres = reason
    try:
        yield {"sqlite": sqlite, "postgresql": postgres}
    finally:
        if isinstance(postgres, PostgresDatabases):
            postgres.teardown()


REDIS_URL = os.environ.get("SENTRAIL_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def redis_unavailable() -> str | None:
    """Why Redis cannot be used, or None when it can."""
    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        return None
    except RedisError as exc:
        return f"Redis at {REDIS_URL} is not reachable ({str(exc).strip()[:120]})"


def fresh_redis_url() -> str:
    """An emptied database of the running Redis (one of 1-15, at random, so that two test runs
    on one machine are unlikely to meet)."""
    require_redis()
    url = f"{REDIS_URL}/{random.randint(1, 15)}"
    Redis.from_url(url).flushdb()
    return url


def require_redis() -> None:
    reason = redis_unavailable()
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)
