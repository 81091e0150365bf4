"""`feedback` and `user_report` items through the envelope endpoint: stored once, linked to
their event and trace, bad ones counted as outcomes without costing the envelope's other
items."""

import uuid

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from store.engine import Database
from store.models import Feedback
from tests.collector.envelopes import event
from tests.collector.user_items import (
    envelope_with,
    feedback_event,
    json_item,
    raw_item,
    user_report,
)
from tests.conftest import ProjectKey


def post(client: TestClient, project: ProjectKey, body: bytes) -> httpx.Response:
    return client.post(f"/api/{project.id}/envelope/", content=body, headers=project.auth)


def outcomes(client: TestClient) -> dict[tuple[str, str, str], int]:
    found = client.get("/api/v1/outcomes").json()["outcomes"]
    return {(o["outcome"], o["category"], o["reason"]): o["quantity"] for o in found}


def stored(database: Database) -> list[Feedback]:
    with database.sessions() as session:
        return list(session.scalars(select(Feedback).order_by(Feedback.id)))


def test_feedback_is_stored_with_its_event_trace_and_own_order(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    error = event(tags={"order_id": "o-1"})
    trace = error["contexts"]["trace"]["trace_id"]
    said = feedback_event(
        associated_event_id=error["event_id"], trace_id=trace, tags={"order_id": "o-1"}
    )
    assert post(client, project, envelope_with(event=error)).status_code == 200
    response = post(client, project, envelope_with(json_item("feedback", said)))
    assert response.status_code == 200, response.text

    listed = client.get("/api/v1/feedback").json()
    assert listed["next_cursor"] is None
    [one] = listed["feedback"]
    assert one["event_id"] == said["event_id"] and one["source"] == "feedback"
    assert one["associated_event_id"] == error["event_id"]
    assert (one["trace_id"], one["order_id"]) == (trace, "o-1")
    assert one["message"] == said["contexts"]["feedback"]["message"]
    assert (one["name"], one["email"]) == ("Jane Doe", "jane@example.com")
    assert (one["release"], one["environment"]) == ("r1", "test")
    assert one["url"] == "https://shop.example.com/checkout"
    assert outcomes(client)[("accepted", "feedback", "stored")] == 1


def test_a_replayed_feedback_is_stored_once(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    body = envelope_with(json_item("feedback", feedback_event()))
    for _ in range(2):
        assert post(client, project, body).status_code == 200
    assert len(stored(database)) == 1
    counted = outcomes(client)
    assert counted[("accepted", "feedback", "stored")] == 1
    assert counted[("duplicate", "feedback", "already stored")] == 1


def test_user_report_is_about_the_event_of_its_id(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    error = event()
    report = user_report(error["event_id"])
    body = envelope_with(json_item("user_report", report), event=error)
    assert post(client, project, body).status_code == 200
    assert post(client, project, envelope_with(json_item("user_report", report))).status_code == 200
    [one] = client.get("/api/v1/feedback").json()["feedback"]
    assert one["source"] == "user_report"
    assert one["event_id"] == one["associated_event_id"] == error["event_id"]
    assert one["trace_id"] == error["contexts"]["trace"]["trace_id"]  # the event's
    assert (one["message"], one["email"]) == ("It broke when I paid", "jane@example.com")
    assert len(stored(database)) == 1


def test_bad_feedback_items_are_outcomes_and_the_event_beside_them_is_stored(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    error = event()
    body = envelope_with(
        raw_item("feedback", b"{not json"),
        json_item("feedback", ["a", "list"]),
        json_item("feedback", feedback_event(message="")),
        json_item("feedback", {**feedback_event(), "contexts": "nope"}),
        json_item("feedback", feedback_event(event_id="not-an-id")),
        raw_item(
            "feedback", b'{"contexts": {"feedback": {"message": "' + b"x" * 2_000_000 + b'"}}}'
        ),
        json_item("user_report", {"name": "no event id", "comments": "hello"}),
        json_item("user_report", user_report(uuid.uuid4().hex, comments="")),
        event=error,
        event_id="not-hex",
    )
    response = post(client, project, body)
    assert response.status_code == 200, response.text
    assert client.get(f"/api/v1/events/{error['event_id']}").status_code == 200
    assert stored(database) == []
    counted = outcomes(client)
    assert counted[("invalid", "feedback", "invalid JSON")] == 2
    assert counted[("invalid", "feedback", "feedback without a message")] == 2
    assert counted[("invalid", "feedback", "event_id must be 32 hex characters or a UUID")] == 1
    assert counted[("invalid", "feedback", "larger than 1048576 bytes")] == 1
    assert counted[("invalid", "user_report", "user report without a valid event_id")] == 1
    assert counted[("invalid", "user_report", "feedback without a message")] == 1


def test_feedback_is_scrubbed_and_cut(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    said = feedback_event(message="my card 4111 1111 1111 1111 was charged twice\x00" + "x" * 9000)
    said["contexts"]["feedback"]["name"] = "N" * 500
    assert post(client, project, envelope_with(json_item("feedback", said))).status_code == 200
    [one] = stored(database)
    assert "4111 1111 1111 1111" not in one.message and "\x00" not in one.message
    assert len(one.message) == 8192 and one.name == "N" * 200


def test_feedback_list_filters_and_pages(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    for release in ("r1", "r2", "r2"):
        body = envelope_with(json_item("feedback", feedback_event(release=release)))
        assert post(client, project, body).status_code == 200
    r2 = client.get("/api/v1/feedback", params={"release": "r2", "limit": 1}).json()
    assert len(r2["feedback"]) == 1 and r2["next_cursor"]
    rest = client.get(
        "/api/v1/feedback", params={"release": "r2", "limit": 1, "cursor": r2["next_cursor"]}
    ).json()
    assert len(rest["feedback"]) == 1 and rest["next_cursor"] is None
    assert rest["feedback"][0]["event_id"] != r2["feedback"][0]["event_id"]
    later = client.get("/api/v1/feedback", params={"since": "2026-11-28T00:00:00"}).json()
    assert later["feedback"] == []
    assert client.get("/api/v1/feedback", params={"cursor": "x"}).status_code == 400
    assert client.get("/api/v1/feedback", params={"order_id": "nope"}).status_code == 404
