"""One correlation scope, all projects: each ACME service sends to a project of its own (the
`shop` fixture), and an order's journey still joins all of them; issues stay per project."""

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from correlator.worker import Correlator
from rules.config import CorrelationRules, current_rules
from store.engine import Database
from store.models import Event, Issue, Journey, JourneyEvent
from tests.collector.envelopes import envelope_bytes
from tests.conftest import make_project
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


def test_journeys_never_join_events_across_correlation_scopes(
    client: TestClient,
    database: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two teams' systems in one sentrail, each its own scope: the same order ID and even the
    same trace in both make one journey per scope, and a keyless event joins only a journey of
    its own scope (here none: the only keyed event of its trace is in the other scope)."""
    rules = tmp_path / "rules.toml"
    rules.write_text(
        (Path(__file__).parents[2] / "rules" / "acme.toml").read_text()
        + '\n[[scopes]]\nname = "eu"\nprojects = ["eu-web", "eu-pay"]\n'
        + '\n[[scopes]]\nname = "us"\nprojects = ["us-web"]\n'
    )
    monkeypatch.setenv("SENTRAIL_CORRELATION_CONFIG", str(rules))
    current_rules.cache_clear()
    try:
        projects = {name: make_project(database, name) for name in ("eu-web", "eu-pay", "us-web")}
        order, trace, lone = str(uuid.uuid4()), uuid.uuid4().hex, uuid.uuid4().hex
        eu, us = Shop(client, projects["eu-web"]), Shop(client, projects["us-web"])
        eu.send(eu.transaction("frontend", 0, trace, order))
        Shop(client, projects["eu-pay"]).send(Shop.message("payment", 1, trace, "charged"))
        us.send(us.transaction("frontend", 2, trace, order))
        us.send(Shop.transaction("frontend", 3, lone, order))
        Shop(client, projects["eu-pay"]).send(Shop.message("payment", 4, lone, "alone"))
        Correlator(database, rules=current_rules()).run_until_idle()
        with database.sessions() as session:
            rows = session.execute(
                select(Journey.scope, Event.project_id, Event.message)
                .join(JourneyEvent, JourneyEvent.journey_id == Journey.id)
                .join(Event, Event.id == JourneyEvent.event_row_id)
                .where(Journey.key == order)
            ).all()
        by_scope: dict[str, set[int]] = {}
        for scope, project_id, _ in rows:
            by_scope.setdefault(scope, set()).add(project_id)
        assert by_scope == {
            "eu": {projects["eu-web"].id, projects["eu-pay"].id},
            "us": {projects["us-web"].id},
        }
        assert "alone" not in {message for *_, message in rows}
        assert client.get(f"/api/v1/orders/{order}", params={"scope": "us"}).json()["scope"] == "us"
        listed = client.get("/api/v1/orders", params={"scope": "eu"}).json()["orders"]
        assert [(o["order_id"], o["scope"]) for o in listed] == [(order, "eu")]
    finally:
        current_rules.cache_clear()


def test_a_project_belongs_to_one_scope_at_most() -> None:
    rules = {
        "keys": [{"name": "order_id", "tags": ["order_id"]}],
        "flows": [{"name": "checkout", "key": "order_id"}],
        "scopes": [{"name": "a", "projects": ["x"]}, {"name": "b", "projects": ["x", "y"]}],
    }
    with pytest.raises(ValueError, match="one scope at most: x"):
        CorrelationRules.model_validate(rules)
    rules["scopes"] = [{"name": "default", "projects": ["x"]}]
    with pytest.raises(ValueError, match="must be unique and not 'default'"):
        CorrelationRules.model_validate(rules)
