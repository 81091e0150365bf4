import gzip
import uuid
import zlib

import brotli
import httpx
import orjson
import pytest
import zstandard
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from store.engine import Database
from store.models import CorrelationKey, Event, Issue, ItemOutcome
from tests.collector.envelopes import envelope_bytes, event
from tests.conftest import ProjectKey


def count(database: Database, model: type) -> int:
    with database.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def post(client: TestClient, project: ProjectKey, body: bytes, **headers: str) -> httpx.Response:
    return client.post(
        f"/api/{project.id}/envelope/", content=body, headers={**project.auth, **headers}
    )


def test_envelope_event_is_stored_and_answered_with_its_id(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    sent = event(tags={"order_id": "o-1"})
    response = client.post(
        f"/api/{project.id}/envelope/", content=envelope_bytes(sent), headers=project.auth
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"id": sent["event_id"]}
    stored = client.get(f"/api/v1/events/{sent['event_id']}").json()
    assert stored["service"] == "payment"
    assert stored["keys"] == {"order_id": ["o-1"]}
    assert stored["payload"]["message"] == "something happened"
    assert count(database, Issue) == 1


AUTH_FORMS = {
    "x-sentry-auth": lambda key: (
        {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"},
        "",
    ),
    "lowercase-prefix": lambda key: (
        {"X-Sentry-Auth": f"sentry sentry_key={key},sentry_version=7"},
        "",
    ),
    "authorization": lambda key: ({"Authorization": f"Sentry sentry_key={key}"}, ""),
    "query": lambda key: ({}, f"?sentry_version=7&sentry_key={key}&sentry_client=node"),
}


@pytest.mark.parametrize("form", sorted(AUTH_FORMS))
def test_every_auth_form_is_accepted(client: TestClient, project: ProjectKey, form: str) -> None:
    headers, query = AUTH_FORMS[form](project.key)
    response = client.post(
        f"/api/{project.id}/envelope/{query}", content=envelope_bytes(event()), headers=headers
    )
    assert response.status_code == 200, response.text


def test_dsn_in_the_envelope_header_authenticates(client: TestClient, project: ProjectKey) -> None:
    dsn = f"http://{project.key}@localhost/{project.id}"
    response = client.post(
        f"/api/{project.id}/envelope/", content=envelope_bytes(event(), headers={"dsn": dsn})
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("headers", "query", "dsn_key", "status"),
    [
        ({}, "", None, 401),
        ({"X-Sentry-Auth": "Sentry sentry_version=7"}, "", None, 401),
        ({"X-Sentry-Auth": "Sentry sentry_key=deadbeef"}, "", None, 403),
        ({}, "?sentry_key=deadbeef", None, 403),
        ({}, "", "deadbeef", 403),
        ({"X-Sentry-Auth": "Sentry sentry_key=KEY"}, "?sentry_key=deadbeef", None, 401),
        ({"X-Sentry-Auth": "Sentry sentry_key=KEY"}, "", "deadbeef", 401),
        ({"X-Sentry-Auth": "Sentry sentry_key=not a key!"}, "", None, 401),
    ],
)
def test_bad_auth_is_refused_and_nothing_stored(
    client: TestClient,
    project: ProjectKey,
    database: Database,
    headers: dict[str, str],
    query: str,
    dsn_key: str | None,
    status: int,
) -> None:
    headers = {k: v.replace("KEY", project.key) for k, v in headers.items()}
    envelope_headers = {"dsn": f"http://{dsn_key}@h/{project.id}"} if dsn_key else {}
    response = client.post(
        f"/api/{project.id}/envelope/{query}",
        content=envelope_bytes(event(), headers=envelope_headers),
        headers=headers,
    )
    assert response.status_code == status
    assert isinstance(response.json()["detail"], str)
    assert count(database, Event) == 0


def test_unknown_project_is_403(client: TestClient, project: ProjectKey) -> None:
    response = client.post(
        f"/api/{project.id + 100}/envelope/", content=envelope_bytes(event()), headers=project.auth
    )
    assert response.status_code == 403
    assert "unknown project" in response.json()["detail"]


ENCODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": zstandard.ZstdCompressor().compress,
}


@pytest.mark.parametrize("encoding", sorted(ENCODERS))
def test_compressed_bodies(client: TestClient, project: ProjectKey, encoding: str) -> None:
    sent = event()
    body = ENCODERS[encoding](envelope_bytes(sent))
    response = post(client, project, body, **{"Content-Encoding": encoding})
    assert response.status_code == 200, response.text
    assert client.get(f"/api/v1/events/{sent['event_id']}").status_code == 200


def test_chunked_body(client: TestClient, project: ProjectKey) -> None:
    sent = event()
    body = envelope_bytes(sent)
    chunks = (body[i : i + 100] for i in range(0, len(body), 100))
    response = client.post(f"/api/{project.id}/envelope/", content=chunks, headers=project.auth)
    assert response.status_code == 200, response.text


def test_store_endpoint_plain_and_base64_zlib(client: TestClient, project: ProjectKey) -> None:
    import base64

    plain, packed = event(), event()
    r1 = client.post(f"/api/{project.id}/store/", content=orjson.dumps(plain), headers=project.auth)
    r2 = client.post(
        f"/api/{project.id}/store/",
        content=base64.b64encode(zlib.compress(orjson.dumps(packed))),
        headers=project.auth,
    )
    assert (r1.status_code, r2.status_code) == (200, 200)
    assert r2.json() == {"id": packed["event_id"]}
    payload = client.get(f"/api/v1/events/{packed['event_id']}").json()["payload"]
    assert payload["event_id"] == packed["event_id"]  # the raw payload is the JSON, decoded


def test_same_event_three_times_is_stored_once(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    sent = event(tags={"order_id": "o-1"})
    for _ in range(3):
        assert post(client, project, envelope_bytes(sent)).status_code == 200
    assert count(database, Event) == 1
    assert count(database, CorrelationKey) == 1
    issue = client.get("/api/v1/issues").json()["issues"][0]
    assert issue["count"] == 1


def test_cors_preflight_for_browser_sdks(client: TestClient, project: ProjectKey) -> None:
    response = client.options(
        f"/api/{project.id}/envelope/",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    posted = client.post(
        f"/api/{project.id}/envelope/?sentry_key={project.key}",
        content=envelope_bytes(event()),
        headers={"Origin": "https://shop.example"},
    )
    assert posted.headers["access-control-allow-origin"] == "*"
    api = client.get("/api/v1/issues", headers={"Origin": "https://shop.example"})
    assert "access-control-allow-origin" not in api.headers


def test_ingest_paths_answer_only_post_and_others_fall_through(
    client: TestClient, project: ProjectKey
) -> None:
    for path in (f"/api/{project.id}/envelope/", f"/api/{project.id}/store", "/webhooks/sentry"):
        refused = client.get(path)
        assert refused.status_code == 405 and refused.headers["allow"] == "POST"
        assert refused.json() == {"detail": "method not allowed"}
    # Not an ingest path: the read API answers, with its own 404.
    assert client.post(f"/api/{project.id}/minidump/").status_code in (404, 405)
    assert client.get("/api/v1/issues").status_code == 200


def test_items_other_than_events_are_counted_not_fatal(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    report = {
        "timestamp": 1764237600,
        "discarded_events": [{"reason": "queue_overflow", "category": "error", "quantity": 3}],
    }
    body = (
        b"{}\n"
        + b'{"type":"attachment","length":3}\nabc\n'
        + b'{"type":"future_thing"}\n{"x":1}\n'
        + b'{"type":"client_report"}\n'
        + orjson.dumps(report)
        + b"\n"
    )
    response = post(client, project, body)
    assert response.status_code == 200
    assert response.json() == {}
    outcomes = client.get("/api/v1/outcomes").json()["outcomes"]
    as_tuples = {(o["outcome"], o["category"], o["reason"], o["quantity"]) for o in outcomes}
    assert as_tuples == {
        ("client_discarded", "error", "queue_overflow", 3),
        # stored when it belongs to an event (tests/collector/test_attachments.py)
        ("invalid", "attachment", "attachment without the event_id of its envelope", 1),
        ("skipped", "future_thing", "unsupported item type", 1),
    }
    assert count(database, ItemOutcome) == 3


def test_two_events_in_one_envelope_is_400(client: TestClient, project: ProjectKey) -> None:
    response = post(client, project, envelope_bytes(event(), event()))
    assert response.status_code == 400


def test_event_id_may_be_a_dashed_uuid(client: TestClient, project: ProjectKey) -> None:
    dashed = str(uuid.uuid4())
    response = post(client, project, envelope_bytes(event(event_id=dashed)))
    assert response.json() == {"id": dashed.replace("-", "")}


def test_nul_characters_are_dropped_not_fatal(client: TestClient, project: ProjectKey) -> None:
    sent = event(message="a\x00b", transaction="/x\x00", tags={"order_id": "o\x00-9", "k\x00": "v"})
    response = post(client, project, envelope_bytes(sent))
    assert response.status_code == 200, response.text
    stored = client.get(f"/api/v1/events/{sent['event_id']}").json()
    assert stored["message"] == "ab" and stored["keys"] == {"order_id": ["o-9"]}
    assert stored["tags"]["k"] == "v"
    assert stored["payload"]["message"] == "a\x00b"  # the raw payload keeps what was sent


def test_trace_lists_its_events_across_services_oldest_first(
    client: TestClient, project: ProjectKey
) -> None:
    trace = {"trace": {"trace_id": "ab" * 16, "span_id": "c" * 16}}
    later = event(server_name="payment", timestamp="2026-11-26T10:00:02Z", contexts=trace)
    earlier = event(server_name="order", timestamp="2026-11-26T10:00:01Z", contexts=trace)
    other = event(server_name="order")
    for sent in (later, earlier, other):
        assert post(client, project, envelope_bytes(sent)).status_code == 200
    listed = client.get(f"/api/v1/traces/{'AB' * 16}").json()
    assert listed["trace_id"] == "ab" * 16
    assert [(e["event_id"], e["service"]) for e in listed["events"]] == [
        (earlier["event_id"], "order"),
        (later["event_id"], "payment"),
    ]
    assert listed["events"][0]["timestamp"] == "2026-11-26T10:00:01Z"
    assert client.get(f"/api/v1/traces/{'0' * 32}").status_code == 404


def test_auto_ip_address_becomes_the_client_address(
    client: TestClient, project: ProjectKey
) -> None:
    """`{{auto}}` asks for the address the request came from (browser SDKs send it)."""
    auto = event(user={"id": "u1", "ip_address": "{{auto}}"})
    given = event(user={"id": "u2", "ip_address": "203.0.113.9"})
    for sent in (auto, given):
        assert post(client, project, envelope_bytes(sent)).status_code == 200
    stored = client.get(f"/api/v1/events/{auto['event_id']}").json()
    assert stored["payload"]["user"] == {"id": "u1", "ip_address": "testclient"}
    kept = client.get(f"/api/v1/events/{given['event_id']}").json()
    assert kept["payload"]["user"]["ip_address"] == "203.0.113.9"


def _session(sid: str, status: str, errors: int = 0, init: bool = False) -> dict[str, object]:
    return {
        "sid": sid,
        "did": f"user-{sid}",
        "init": init,
        "started": "2026-11-27T10:00:00Z",
        "status": status,
        "errors": errors,
        "attrs": {"release": "browser@1", "environment": "prod"},
    }


def test_sessions_are_counted_as_relay_counts_them(client: TestClient, project: ProjectKey) -> None:
    """What a browser release sends, counted by hand: an uncaught error ends a session
    `unhandled` (errored, not crashed); a session left at `ok` with errors is errored; a crash
    sent twice counts once."""
    updates = [
        [_session("s1", "ok", init=True)],
        [_session("s1", "unhandled", errors=1)],
        [_session("s2", "ok", init=True)],
        [_session("s2", "ok", errors=1)],  # closed by Sentry.close(): no final update
        [_session("s3", "ok", init=True)],
        [_session("s3", "exited")],
        [_session("s4", "ok", init=True)],
        [_session("s4", "ok", errors=1)],
        [_session("s4", "crashed", errors=1)],
        [_session("s4", "crashed", errors=1)],
        [_session("s5", "ok", init=True)],
        [_session("s5", "abnormal")],
        [_session("s6", "ok", init=True)],
        [_session("s6", "exited", errors=2)],  # ended normally, but saw errors
    ]
    for sessions in updates:
        assert post(client, project, envelope_bytes(sessions=sessions)).status_code == 200
    [stored] = client.get("/api/v1/sessions", params={"release": "browser@1"}).json()["sessions"]
    assert {k: stored[k] for k in ("total", "exited", "errored", "crashed", "abnormal")} == {
        "total": 6,
        "exited": 1,  # s3: the one healthy end
        "errored": 2,  # s2, s6: s1 ended unhandled, s4 crashed, s5 abnormal
        "crashed": 1,
        "abnormal": 1,
    }
    assert stored["unhandled"] == 1
    health = client.get("/api/v1/releases/browser@1").json()
    assert health["sessions"] == {
        "total": 6,
        "crashed": 1,
        "errored": 2,
        "abnormal": 1,
        "unhandled": 1,
    }
    assert health["crash_free_sessions"] == round(1 - 1 / 6, 6)
