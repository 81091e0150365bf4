"""What the end-to-end tests share: a real `sentrail serve` on the test's database, and a
project for the SDK clients to send to. A test module that needs another server (other
settings, a stand-in, a browser) defines its own `server`, which takes precedence."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.server import Server, running_server
from store.engine import Database
from tests.conftest import ProjectKey, make_project


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    with running_server(database_url, tmp_path / "server.log") as running:
        yield running


@pytest.fixture
def shop(database: Database) -> ProjectKey:
    return make_project(database)
