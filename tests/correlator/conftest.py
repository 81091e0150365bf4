import pytest
from fastapi.testclient import TestClient

from sentrail.settings import Role
from tests.conftest import ProjectKey
from tests.correlator.shop_events import Shop


@pytest.fixture
def app_roles() -> frozenset[Role]:
    """These tests run the correlator themselves, with a clock they choose."""
    return frozenset({"collector", "dashboard"})


@pytest.fixture
def shop(client: TestClient, project: ProjectKey) -> Shop:
    return Shop(client, project)
