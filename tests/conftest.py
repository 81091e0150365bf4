import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from collector.settings import CollectorSettings
from sentrail.app import create_app
from sentrail.settings import ALL_ROLES, Role
from store.engine import Database
from store.models import Project
from store.settings import DatabaseSettings
from tests.services import PostgresDatabases, SqliteDatabases, database_factories, require_postgres

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def _factories(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, SqliteDatabases | PostgresDatabases | str]]:
    yield from database_factories(tmp_path_factory.mktemp("databases"))


def _factory(
    factories: dict[str, SqliteDatabases | PostgresDatabases | str], backend: str
) -> SqliteDatabases | PostgresDatabases:
    factory = factories[backend]
    if isinstance(factory, str):
        require_postgres(factory)
        raise AssertionError("unreachable")
    return factory


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def database_url(
    _factories: dict[str, SqliteDatabases | PostgresDatabases | str], backend: str
) -> str:
    """A freshly migrated database on each backend."""
    return _factory(_factories, backend).fresh()


@pytest.fixture
def empty_database_url(
    _factories: dict[str, SqliteDatabases | PostgresDatabases | str], backend: str
) -> str:
    """An empty database (no migrations run) on each backend."""
    return _factory(_factories, backend).empty()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(DatabaseSettings(database_url=database_url))
    yield db
    db.dispose()


@dataclass(frozen=True)
class ProjectKey:
    id: int
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"X-Sentry-Auth": f"Sentry sentry_key={self.key}, sentry_version=7"}


def make_project(database: Database, name: str = "shop") -> ProjectKey:
    with database.sessions.begin() as session:
        project = Project(name=name, public_key=secrets.token_hex(16), created_at=datetime.now(UTC))
        session.add(project)
        session.flush()
        return ProjectKey(project.id, project.public_key)


@pytest.fixture
def project(database: Database) -> ProjectKey:
    return make_project(database)


@pytest.fixture
def collector_settings() -> CollectorSettings:
    return CollectorSettings()


@pytest.fixture
def app_roles() -> frozenset[Role]:
    """The parts the test app runs; tests that drive the correlator themselves leave it out."""
    return ALL_ROLES


@pytest.fixture
def client(
    database_url: str,
    collector_settings: CollectorSettings,
    project: ProjectKey,
    app_roles: frozenset[Role],
) -> Iterator[TestClient]:
    app = create_app(
        DatabaseSettings(database_url=database_url), collector_settings, roles=app_roles
    )
    with TestClient(app) as test_client:
        yield test_client


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(Path(str(item.fspath))):
            item.add_marker(pytest.mark.e2e)
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("backend") == "postgresql":
            item.add_marker(pytest.mark.postgres)
