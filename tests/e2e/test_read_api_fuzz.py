"""schemathesis against the project's own OpenAPI: whatever it sends, the read API never
answers 5xx. A real server on each backend, holding some real data."""

from collections.abc import Iterator

import httpx
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.openapi import from_url

from bench import webhook_payloads as sp
from bench.server import running_server
from store.engine import Database
from store.settings import DatabaseSettings
from tests.collector.envelopes import envelope_bytes, event
from tests.collector.telemetry_payloads import envelope, item, spans
from tests.collector.telemetry_payloads import log as log_entry
from tests.conftest import BACKENDS, _factory, make_project
from tests.services import PostgresDatabases, SqliteDatabases

SECRET = "fuzz-client-secret"


@pytest.fixture(scope="module", params=BACKENDS)
def api_schema(
    request: pytest.FixtureRequest,
    _factories: dict[str, SqliteDatabases | PostgresDatabases | str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[schemathesis.BaseSchema]:
    url = _factory(_factories, request.param).fresh()
    database = Database(DatabaseSettings(database_url=url))
    project = make_project(database)
    database.dispose()
    log = tmp_path_factory.mktemp("fuzz") / "server.log"
    env = {"SENTRAIL_SENTRY_CLIENT_SECRET": SECRET}
    with running_server(url, log, extra_env=env) as server:
        for tags in ({"order_id": sp.ORDER}, {"order_id": "o-2"}):
            httpx.post(
                f"{server.url}/api/{project.id}/envelope/",
                content=envelope_bytes(event(tags=tags)),
                headers=project.auth,
            )
        check_in = {
            "check_in_id": "a" * 32,
            "monitor_slug": "nightly",
            "status": "ok",
            "monitor_config": {"schedule": {"type": "crontab", "value": "0 * * * *"}},
        }
        httpx.post(
            f"{server.url}/api/{project.id}/envelope/",
            content=b'{}\n{"type":"check_in"}\n' + orjson.dumps(check_in) + b"\n",
            headers=project.auth,
        )
        telemetry = envelope(
            item("span", spans(order_id=sp.ORDER)),
            item("log", [log_entry(attributes={"order_id": sp.ORDER}), log_entry(level="error")]),
        )
        sent = httpx.post(
            f"{server.url}/api/{project.id}/envelope/", content=telemetry, headers=project.auth
        )
        assert sent.status_code == 200, sent.text
        body, headers = sp.signed(sp.envelope("created", {"issue": sp.issue()}), "issue", SECRET)
        httpx.post(f"{server.url}/webhooks/sentry", content=body, headers=headers)
        yield from_url(f"{server.url}/openapi.json")


def test_read_api_never_answers_5xx(api_schema: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert any(op.path == "/api/v1/issues/{issue_id}" for op in operations)
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def call(case: schemathesis.Case) -> None:
            response = case.call()
            assert response.status_code < 500, (case.method, case.path, response.text[:300])
            if response.status_code >= 400:
                assert isinstance(response.json()["detail"], str)

        call()
