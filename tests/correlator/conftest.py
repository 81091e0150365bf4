import pytest
from fastapi.testclient import TestClient

from sentrail.settings import Role
from shop.settings import SERVICES
from store.engine import Database
from tests.conftest import ProjectKey, make_project
from tests.correlator.shop_events import Shop


@pytest.fixture
def app_roles() -> frozenset[Role]:
    """These tests run the correlator themselves, with a clock they choose."""
    return frozenset({"collector", "dashboard"})


@pytest.fixture
def shop(client: TestClient, project: ProjectKey, database: Database) -> Shop:
    """Each service sends to a project of its own, as the real shop does: journeys join
    across projects."""
    projects = {service: make_project(database, f"acme-{service}") for service in SERVICES}
    return Shop(client, project, projects)
