"""Retention: old events go, with their keys and journeys; recent ones and the counts stay."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from collector.batch import IngestBatch
from collector.checkins import read_check_in
from collector.persist_checkins import write_check_ins
from correlator.worker import Correlator
from sentrail.cli import app
from store.engine import Database
from store.models import (
    Alert,
    AlertDelivery,
    CheckIn,
    CorrelationKey,
    Event,
    EventRollup,
    Journey,
    JourneyEvent,
    LogEntry,
    LogKey,
    Monitor,
    Span,
    SpanKey,
)
from store.retention import prune
from tests.collector.envelopes import envelope_bytes, event
from tests.collector.telemetry_payloads import envelope, item, log, spans
from tests.conftest import ProjectKey


def send(client: TestClient, project: ProjectKey, days_ago: float, order: str) -> None:
    sent = event(
        timestamp=(datetime.now(UTC) - timedelta(days=days_ago)).isoformat(),
        tags={"order_id": order},
    )
    answer = client.post(
        f"/api/{project.id}/envelope/", content=envelope_bytes(sent), headers=project.auth
    )
    assert answer.status_code == 200, answer.text


def count(database: Database, model: type) -> int:
    with database.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_prune_removes_what_is_older_than_the_retention(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    for _ in range(5):
        send(client, project, 10, old)
    send(client, project, 0.01, new)
    Correlator(database).run_until_idle()
    assert (count(database, Event), count(database, Journey)) == (6, 2)
    rollups_before = count(database, EventRollup)

    result = prune(database, timedelta(days=5), batch=2)  # several batches
    assert (result.events, result.journeys) == (5, 1)
    assert count(database, Event) == 1
    assert count(database, CorrelationKey) == 1  # the old keys went with their events
    assert count(database, JourneyEvent) == 1
    with database.sessions() as session:
        assert list(session.scalars(select(Journey.key))) == [new]
    assert count(database, EventRollup) == rollups_before  # counts are kept
    assert prune(database, timedelta(days=5)).events == 0


def test_prune_removes_old_spans_and_logs_with_their_keys(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    order = str(uuid.uuid4())
    now = datetime.now(UTC).timestamp()
    recent = spans(order_id=order)[1]
    recent.update(start_timestamp=now - 60, end_timestamp=now - 59, span_id="c" * 16)
    body = envelope(
        item("span", [*spans(order_id=order), recent]),  # the example's spans are from 2025
        item("log", [log(attributes={"order_id": order}), log(timestamp=now, body="new")]),
    )
    answer = client.post(f"/api/{project.id}/envelope/", content=body, headers=project.auth)
    assert answer.status_code == 200, answer.text
    result = prune(database, timedelta(days=5))
    assert (result.spans, result.logs) == (2, 1)
    assert (count(database, Span), count(database, SpanKey)) == (1, 1)
    assert (count(database, LogEntry), count(database, LogKey)) == (1, 0)


def test_prune_command_needs_an_age(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTRAIL_DATABASE_URL", database_url)
    monkeypatch.delenv("SENTRAIL_RETENTION_DAYS", raising=False)
    refused = CliRunner().invoke(app, ["prune"])
    assert refused.exit_code == 1 and "SENTRAIL_RETENTION_DAYS" in refused.output
    monkeypatch.setenv("SENTRAIL_RETENTION_DAYS", "30")
    done = CliRunner().invoke(app, ["prune"])
    assert done.exit_code == 0 and "pruned 0 events" in done.output


def test_prune_removes_old_check_ins_and_keeps_their_monitor(
    database: Database, project: ProjectKey
) -> None:
    config = {"schedule": {"type": "interval", "value": 1, "unit": "day"}}
    now = datetime.now(UTC)
    for days_ago in (10, 0):
        item = {"check_in_id": uuid.uuid4().hex, "monitor_slug": "daily", "status": "ok"}
        received = now - timedelta(days=days_ago)
        batch = IngestBatch(
            project.id, check_ins=[read_check_in({**item, "monitor_config": config}, received)]
        )
        with database.writing() as connection:
            write_check_ins(connection, [batch])
            connection.commit()
    assert prune(database, timedelta(days=5)).check_ins == 1
    assert (count(database, CheckIn), count(database, Monitor)) == (1, 1)


def test_prune_removes_resolved_alerts_with_their_notifications_and_keeps_firing_ones(
    database: Database,
) -> None:
    now = datetime.now(UTC)
    with database.writing() as connection:
        for rule, resolved in (("old", now - timedelta(days=10)), ("firing", None)):
            alert_id = connection.execute(
                insert(Alert)
                .values(
                    rule=rule,
                    condition="orders_stalled",
                    group_key="g",
                    summary="s",
                    status="resolved" if resolved else "firing",
                    value=1,
                    threshold=1,
                    url="u",
                    details={},
                    fired_at=now - timedelta(days=11),
                    resolved_at=resolved,
                    updated_at=now,
                )
                .returning(Alert.id)
            ).scalar_one()
            connection.execute(
                insert(AlertDelivery).values(
                    alert_id=alert_id, delivery_id=str(uuid.uuid4()), notice="fired",
                    target="hook", target_kind="webhook", status="delivered", attempts=1,
                    next_attempt_at=now, payload={}, created_at=now, updated_at=now,
                )
            )  # fmt: skip
        connection.commit()
    result = prune(database, timedelta(days=7))
    assert result.alerts == 1
    with database.sessions() as session:
        assert session.scalars(select(Alert.rule)).all() == ["firing"]
    assert count(database, AlertDelivery) == 1
