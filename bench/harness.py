"""What the benchmarks share around their measurements: the options they have in common, a
fresh database with the project the load goes to, the machine line every report starts with,
and what the server process spent (CPU, memory, group commits)."""

import argparse
import os
import platform
from pathlib import Path

import psycopg
from psycopg import sql

from store import migrations
from store.engine import Database
from store.projects import create_project
from store.settings import DatabaseSettings

# The server the tests use; each run makes a database of its own on it.
POSTGRES = os.environ.get("SENTRAIL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def parser(description: str | None, command: str | None = None) -> argparse.ArgumentParser:
    """A parser with the options the benchmarks share: --backend, and for those that start a
    server of a choice (`command`, the default one) --workers and --command."""
    options = argparse.ArgumentParser(description=description)
    options.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    if command is not None:
        options.add_argument("--workers", type=int, default=1)
        options.add_argument(
            "--command",
            choices=["serve", "collector"],
            default=command,
            help="collector: ingestion alone; serve: the correlator and dashboard beside it",
        )
    return options


def machine() -> str:
    """Figures mean little without the machine that measured them."""
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )


def fresh_database(backend: str, workdir: Path) -> str:
    """The URL of an empty, migrated database: a file in `workdir` on SQLite, a database of its
    own on PostgreSQL (dropped first, should an interrupted run have left it)."""
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
    else:
        name = f"sentrail_bench_{os.getpid()}"
        with psycopg.connect(POSTGRES, autocommit=True) as connection:
            database = sql.Identifier(name)
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
            connection.execute(sql.SQL("CREATE DATABASE {}").format(database))
        server = POSTGRES.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        url = f"{server}/{name}"
    migrations.upgrade(url)
    return url


def drop_database(url: str) -> None:
    """Drops a PostgreSQL database `fresh_database` made (a SQLite file goes with its
    directory)."""
    if url.startswith("postgresql"):
        name = sql.Identifier(url.rsplit("/", 1)[1])
        with psycopg.connect(POSTGRES, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def with_project(url: str, name: str = "bench") -> tuple[Database, int, str]:
    """Creates the project the load is sent to; returns the database (to count what was
    stored), the project's id and its public key."""
    database = Database(DatabaseSettings(database_url=url))
    with database.sessions.begin() as session:
        project = create_project(session=session, name=name)
        return database, project.id, project.public_key


def process_tree(pid: int) -> list[int]:
    """A server process and its direct children (the uvicorn workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(int(child) for child in children)]


def process_cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU time of a process and its children (the uvicorn workers)."""
    user = system = 0.0
    for each in process_tree(pid):
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        user += int(fields[11]) / os.sysconf("SC_CLK_TCK")
        system += int(fields[12]) / os.sysconf("SC_CLK_TCK")
    return user, system


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (the uvicorn workers)."""
    total = 0
    for each in process_tree(pid):
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def group_commits(server_log: Path) -> list[str]:
    """What each worker's writer logged when it stopped: requests, commits, time writing."""
    return [
        line.split("writer stopped: ", 1)[1]
        for line in server_log.read_text().splitlines()
        if "writer stopped: " in line
    ]
