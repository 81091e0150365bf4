import hashlib
import hmac

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from bench import webhook_payloads as sp
from collector.settings import CollectorSettings
from correlator.worker import Correlator
from store.engine import Database
from store.models import Event, IssueComment, WebhookDelivery
from tests.collector.envelopes import envelope_bytes
from tests.collector.envelopes import event as sdk_event
from tests.conftest import ProjectKey

OLD, NEW = "old-client-secret", "new-client-secret"
LEGACY = "legacy-token-0123456789"


@pytest.fixture
def collector_settings() -> CollectorSettings:
    return CollectorSettings(sentry_client_secret=f"{OLD}, {NEW}", legacy_webhook_token=LEGACY)


def deliver(
    client: TestClient,
    resource: str,
    payload: dict[str, object],
    secret: str = NEW,
    request_id: str | None = None,
) -> int:
    body, headers = sp.signed(payload, resource, secret, request_id)
    return client.post("/webhooks/sentry", content=body, headers=headers).status_code


def count(database: Database, model: type) -> int:
    with database.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_every_resource_is_accepted_and_recorded(client: TestClient) -> None:
    sent = sp.every_resource()
    for resource, payload in sent:
        assert deliver(client, resource, payload) == 200, resource
    deliveries = client.get("/api/v1/webhooks/deliveries", params={"limit": 100}).json()
    got = [(d["resource"], d["action"], d["outcome"]) for d in deliveries["deliveries"]]
    assert got[::-1] == [
        ("installation", "created", "recorded"),
        ("issue", "created", "issue"),
        ("issue", "resolved", "issue"),
        ("issue", "assigned", "issue"),
        ("issue", "ignored", "issue"),
        ("issue", "archived", "issue"),
        ("issue", "unresolved", "issue"),
        ("error", "created", "event"),
        ("event_alert", "triggered", "event"),
        ("metric_alert", "critical", "recorded"),
        ("comment", "created", "comment"),
        ("seer", "root_cause_started", "recorded"),
        ("future_resource", "happened", "recorded"),
    ]


def test_error_becomes_an_event_of_the_sentry_issue(client: TestClient) -> None:
    error = sp.event("2026-11-26T10:00:00.5Z")
    assert deliver(client, "error", sp.envelope("created", {"error": error})) == 200
    alert = sp.event("2026-11-26T10:01:00+00:00")
    assert deliver(client, "event_alert", sp.envelope("triggered", {"event": alert})) == 200

    stored = client.get(f"/api/v1/events/{error['event_id']}").json()
    assert stored["source"] == "webhook"
    assert stored["external_url"] == error["web_url"]
    assert stored["timestamp"] == "2026-11-26T10:00:00.500000Z"
    assert stored["tags"]["order_id"] == sp.ORDER and stored["release"] == "abc123"
    assert stored["service"] == "payment" and stored["trace_id"] == "c" * 32
    assert stored["keys"]["order_id"] == [sp.ORDER]
    later = client.get(f"/api/v1/events/{alert['event_id']}").json()
    assert later["timestamp"] == "2026-11-26T10:01:00Z"
    assert later["issue_id"] == stored["issue_id"]  # both belong to Sentry issue 1170820242

    issue = client.get(f"/api/v1/issues/{stored['issue_id']}").json()
    assert issue["sentry_id"] == "1170820242" and issue["count"] == 2


def test_issue_lifecycle_and_comments(client: TestClient, database: Database) -> None:
    assert deliver(client, "issue", sp.envelope("created", {"issue": sp.issue()})) == 200
    [listed] = client.get("/api/v1/issues").json()["issues"]
    assert (listed["status"], listed["count"]) == ("unresolved", 12)  # count came as a string

    assert deliver(client, "issue", sp.envelope("resolved", {"issue": sp.issue()})) == 200
    detail = client.get(f"/api/v1/issues/{listed['id']}").json()
    assert detail["status"] == "resolved" and detail["resolved_at"] is not None
    assignee = {"type": "user", "id": "2", "name": "Björn", "email": "b@acme.test"}
    assert (
        deliver(
            client,
            "issue",
            sp.envelope("assigned", {"issue": sp.issue(status="resolved", assignedTo=assignee)}),
        )
        == 200
    )
    assert deliver(client, "issue", sp.envelope("unresolved", {"issue": sp.issue()})) == 200
    detail = client.get(f"/api/v1/issues/{listed['id']}").json()
    assert (detail["status"], detail["assigned_to"]) == ("unresolved", None)
    assert detail["external_url"] == "https://sentry.io/organizations/acme/issues/1170820242/"

    comment = sp.comment()
    assert deliver(client, "comment", sp.envelope("created", comment)) == 200
    assert (
        deliver(
            client, "comment", sp.envelope("updated", {**comment, "comment": "Fixed in abc124"})
        )
        == 200
    )
    [shown] = client.get(f"/api/v1/issues/{listed['id']}").json()["comments"]
    assert (shown["text"], shown["author"]) == ("Fixed in abc124", "Ana Müller")
    assert deliver(client, "comment", sp.envelope("deleted", comment)) == 200
    assert client.get(f"/api/v1/issues/{listed['id']}").json()["comments"] == []
    assert count(database, IssueComment) == 1


@pytest.mark.parametrize("forgery", ["unsigned", "wrong secret", "tampered", "garbage"])
def test_forged_deliveries_are_refused_and_nothing_stored(
    client: TestClient, database: Database, forgery: str
) -> None:
    body, headers = sp.signed(sp.envelope("created", {"error": sp.event()}), "error", NEW)
    if forgery == "unsigned":
        del headers["Sentry-Hook-Signature"]
    elif forgery == "wrong secret":
        headers["Sentry-Hook-Signature"] = hmac.new(b"guess", body, hashlib.sha256).hexdigest()
    elif forgery == "tampered":
        body = body.replace(b"abc123", b"abc999")
    else:
        headers["Sentry-Hook-Signature"] = "zz" * 32
    response = client.post("/webhooks/sentry", content=body, headers=headers)
    assert response.status_code == 401
    assert "Signature" in response.json()["detail"]
    assert count(database, WebhookDelivery) == 0 and count(database, Event) == 0


def test_the_rotated_out_secret_still_works(client: TestClient) -> None:
    payload = sp.envelope("created", {"issue": sp.issue()})
    assert deliver(client, "issue", payload, secret=OLD) == 200
    assert deliver(client, "issue", payload, secret=NEW) == 200


def test_a_redelivery_changes_nothing(client: TestClient, database: Database) -> None:
    payload = sp.envelope("created", {"error": sp.event()})
    for _ in range(3):
        assert deliver(client, "error", payload, request_id="f" * 32) == 200
    assert count(database, WebhookDelivery) == 1 and count(database, Event) == 1
    [issue] = client.get("/api/v1/issues").json()["issues"]
    assert issue["count"] == 1


def test_webhook_error_and_sdk_event_of_one_order_end_up_in_one_journey(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    sdk = sdk_event(tags={"order_id": sp.ORDER}, server_name="order")
    response = client.post(
        f"/api/{project.id}/envelope/", content=envelope_bytes(sdk), headers=project.auth
    )
    assert response.status_code == 200
    error = sp.event()
    assert deliver(client, "error", sp.envelope("created", {"error": error})) == 200
    keys = [
        client.get(f"/api/v1/events/{e}").json()["keys"]
        for e in (sdk["event_id"], error["event_id"])
    ]
    assert keys == [{"order_id": [sp.ORDER]}, {"order_id": [sp.ORDER]}]
    Correlator(database).run_until_idle()
    journey = client.get(f"/api/v1/orders/{sp.ORDER}").json()
    assert {e["event_id"] for e in journey["events"]} == {sdk["event_id"], error["event_id"]}


def test_legacy_plugin_needs_its_token(client: TestClient, database: Database) -> None:
    event = sp.event()
    body = sp.body_of(
        {
            "id": "1170820242",
            "project": "payment",
            "project_name": "payment",
            "project_slug": "payment",
            "level": "error",
            "culprit": "x",
            "message": "boom",
            "url": "https://sentry.io/x",
            "triggering_rules": [],
            "event": {k: v for k, v in event.items() if k != "issue_id"},
        }
    )
    assert client.post("/webhooks/sentry/legacy", content=body).status_code == 401
    assert client.post("/webhooks/sentry/legacy?token=wrong", content=body).status_code == 401
    assert count(database, Event) == 0
    ok = client.post(f"/webhooks/sentry/legacy?token={LEGACY}", content=body)
    assert ok.status_code == 200
    stored = client.get(f"/api/v1/events/{event['event_id']}").json()
    issue = client.get(f"/api/v1/issues/{stored['issue_id']}").json()
    assert issue["sentry_id"] == "1170820242"


def test_malformed_signed_body_is_400(client: TestClient) -> None:
    body = b"not json"
    signature = hmac.new(NEW.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(
        "/webhooks/sentry", content=body, headers={"Sentry-Hook-Signature": signature}
    )
    assert response.status_code == 400


def test_an_event_id_sentrail_cannot_read_loses_no_delivery(
    client: TestClient, database: Database
) -> None:
    """sentry.io never retries a delivery answered 4xx: the event is stored under an id derived
    from the one it had, and a redelivery lands on the same row."""
    alert = {**sp.event(), "event_id": "evt-not-32-hex"}
    for _ in range(2):  # a redelivery has a new Request-ID
        assert deliver(client, "event_alert", sp.envelope("triggered", {"event": alert})) == 200
    with database.sessions() as session:
        stored = session.scalars(select(Event).where(Event.source == "webhook")).all()
    assert len(stored) == 1 and len(stored[0].event_id) == 32


def test_the_title_is_the_one_sentry_gave(client: TestClient) -> None:
    error = sp.event()
    assert deliver(client, "error", sp.envelope("created", {"error": error})) == 200
    stored = client.get(f"/api/v1/events/{error['event_id']}").json()
    assert stored["title"] == error["title"] == "ValueError: validation failed"
    issue = client.get(f"/api/v1/issues/{stored['issue_id']}").json()
    assert issue["title"] == "ValueError: validation failed"
