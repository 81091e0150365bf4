import pytest
from fastapi.testclient import TestClient

from collector.settings import CollectorSettings
from tests.collector.envelopes import envelope_bytes, event
from tests.collector.test_endpoints import post
from tests.conftest import ProjectKey


@pytest.fixture
def collector_settings() -> CollectorSettings:
    return CollectorSettings(rate_limit_per_minute=3)


def test_rate_limit_answers_429_with_sentry_headers(
    client: TestClient, project: ProjectKey
) -> None:
    statuses = [post(client, project, envelope_bytes(event())).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = post(client, project, envelope_bytes(event()))
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["X-Sentry-Rate-Limits"].endswith("::project:project_quota")
