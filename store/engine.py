import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from store.settings import DatabaseSettings

# WAL lets readers run beside the one writer; synchronous=FULL (the default setting) makes each
# commit survive a power loss, which is what a 2xx promises (group commit keeps fsyncs few).
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-65536",
    "PRAGMA mmap_size=268435456",
)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def make_engine(settings: DatabaseSettings | None = None) -> Engine:
    settings = settings or DatabaseSettings()
    url = settings.database_url
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            json_serializer=_json_dumps,
            connect_args={"check_same_thread": False, "timeout": 10},
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_pool_size,
        )
        _configure_sqlite(engine, settings.sqlite_synchronous)
        return engine
    return create_engine(
        url,
        json_serializer=_json_dumps,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control from pysqlite so that BEGIN is ours to choose.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (*SQLITE_PRAGMAS, f"PRAGMA synchronous={synchronous.upper()}"):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A writer takes the write lock up front: a deferred BEGIN that upgrades later can
        # fail with SQLITE_BUSY without waiting when another process writes.
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class WriteLock:
    """SQLite's writers take turns through this lock: the threads of one process through a
    mutex, the processes sharing one database file (`serve --workers N`) through an flock on
    a file beside it. Waiting on SQLite's busy handler instead, which sleeps in growing
    steps, a writer can starve while another commits back to back, and a waiting request
    sleeps tens of milliseconds after the lock came free; the kernel wakes an flock waiter
    at once."""

    def __init__(self, database_file: str | None) -> None:
        self._mutex = threading.Lock()
        self._path = f"{database_file}-writer.lock" if database_file else None
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int | None:
        if self._path is None:
            return None
        if self._fd is None or self._pid != os.getpid():  # an flock is not shared by a fork
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._mutex:
            fd = self._file()
            if fd is None:
                yield
                return
            fcntl.flock(fd, fcntl.LOCK_EX)  # waits with the GIL released
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


class Database:
    """The engine and its session factory, made once per process."""

    def __init__(self, settings: DatabaseSettings | None = None) -> None:
        self.settings = settings or DatabaseSettings()
        self.engine = make_engine(self.settings)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_lock: WriteLock | None = (
            WriteLock(self.engine.url.database if self.engine.url.database != ":memory:" else None)
            if self.is_sqlite
            else None
        )
        # For transactions that read and then write: on SQLite they take the write lock at
        # BEGIN, so a commit elsewhere between the read and the write cannot make them fail.
        self.write_sessions = sessionmaker(
            self.engine.execution_options(sqlite_immediate=True), expire_on_commit=False
        )

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A connection for one write transaction (begun on first use, IMMEDIATE on SQLite).

        On SQLite every writer (the collector's writers of each worker process, the
        correlator, retention) takes turns through the `WriteLock`."""
        lock: AbstractContextManager[None] = (
            self._write_lock.held() if self._write_lock else nullcontext()
        )
        with lock:
            connection = self.engine.connect().execution_options(sqlite_immediate=True)
            with connection:
                yield connection

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self._write_lock is not None:
            self._write_lock.close()
