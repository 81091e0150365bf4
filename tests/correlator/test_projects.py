"""One correlation scope, all projects: each ACME service sends to a project of its own (the
`shop` fixture), and an order's journey still joins all of them; issues stay per project."""

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from correlator.worker import Correlator
from store.engine import Database
from store.models import Event, Issue, Journey, JourneyEvent
from tests.collector.envelopes import envelope_bytes
from tests.correlator.shop_events import BASE, Shop


def test_a_journey_joins_the_events_of_every_services_project(
    shop: Shop, database: Database
) -> None:
    order, trace = str(uuid.uuid4()), uuid.uuid4().hex
    shop.checkout(order, trace)
    Correlator(database).run_until_idle()
    with database.sessions() as session:
        journey = session.scalar(select(Journey).where(Journey.key == order))
        assert journey is not None and journey.status == "completed"
        rows = session.execute(
            select(Event.service, Event.project_id)
            .join(JourneyEvent, JourneyEvent.event_row_id == Event.id)
            .where(JourneyEvent.journey_id == journey.id)
        ).all()
    by_service = {service: project_id for service, project_id in rows}
    assert by_service == {
        s: shop.projects[s].id for s in ("frontend", "order", "payment", "shipping")
    }
    assert len(set(by_service.values())) == 4


def test_the_same_error_in_two_services_projects_is_two_issues(
    shop: Shop, database: Database, client: TestClient
) -> None:
    order, trace = str(uuid.uuid4()), uuid.uuid4().hex
    shop.send(
        shop.transaction("frontend", 0, trace, order), shop.transaction("order", 0.1, trace, order)
    )
    text = "upstream timed out"
    shop.send(
        shop.message("order", 1, trace, text, level="error"),
        shop.message("payment", 1.5, trace, text, level="error"),
    )
    Correlator(database).run_until_idle()
    with database.sessions() as session:
        issues = session.execute(
            select(Issue.id, Issue.project_id).where(Issue.title == text)
        ).all()
    assert len(issues) == 2
    assert {project_id for _, project_id in issues} == {
        shop.projects["order"].id,
        shop.projects["payment"].id,
    }
    # Both errors are still the one order's: the journey lists each, with its own issue.
    journey = client.get(f"/api/v1/orders/{order}").json()
    errors = [e for e in journey["events"] if e["title"] == text]
    assert {e["service"] for e in errors} == {"order", "payment"}
    assert {e["issue_id"] for e in errors} == {issue_id for issue_id, _ in issues}


def test_a_user_seen_by_two_services_projects_counts_once(shop: Shop, client: TestClient) -> None:
    """Release health adds the projects' sessions up (each SDK's sessions are its own), but a
    user is one user however many services' projects saw them."""
    for service, status in (("frontend", "exited"), ("payment", "crashed"), ("order", "exited")):
        project = shop.projects[service]
        session = {
            "sid": uuid.uuid4().hex,
            "did": "user-1",
            "init": True,
            "started": (BASE + timedelta(seconds=5)).isoformat(),
            "status": status,
            "attrs": {"release": "r-users", "environment": "test"},
        }
        answer = client.post(
            f"/api/{project.id}/envelope/",
            content=envelope_bytes(sessions=[session]),
            headers=project.auth,
        )
        assert answer.status_code == 200, answer.text
    (totals,) = client.get("/api/v1/sessions", params={"release": "r-users"}).json()["sessions"]
    assert (totals["total"], totals["crashed"]) == (3, 1)
    assert (totals["users"], totals["crashed_users"]) == (1, 1)
    release = client.get("/api/v1/releases/r-users").json()
    assert release["crash_free_sessions"] == round(2 / 3, 6)
    assert release["crash_free_users"] == 0.0
