"""`check_in` items through the real endpoint, on both backends."""

import uuid
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from store.engine import Database
from store.models import CheckIn, Event, ItemOutcome, Monitor
from tests.collector.envelopes import envelope_bytes, event
from tests.conftest import ProjectKey

HOURLY = {"schedule": {"type": "crontab", "value": "0 * * * *"}, "checkin_margin": 5}


def check_in(**fields: Any) -> dict[str, Any]:
    return {"check_in_id": uuid.uuid4().hex, "monitor_slug": "nightly-export", **fields}


def envelope(*payloads: bytes | dict[str, Any], extra: bytes = b"") -> bytes:
    lines = [b"{}"]
    for payload in payloads:
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        lines += [orjson.dumps({"type": "check_in", "length": len(body)}), body]
    return b"\n".join(lines) + b"\n" + extra


def post(client: TestClient, project: ProjectKey, body: bytes) -> None:
    response = client.post(f"/api/{project.id}/envelope/", content=body, headers=project.auth)
    assert response.status_code == 200, response.text


def monitors(database: Database) -> list[Monitor]:
    with database.sessions() as session:
        return list(session.scalars(select(Monitor).order_by(Monitor.id)))


def runs(database: Database) -> list[CheckIn]:
    with database.sessions() as session:
        return list(session.scalars(select(CheckIn).order_by(CheckIn.id)))


def outcomes(database: Database) -> dict[tuple[str, str], int]:
    with database.sessions() as session:
        rows = session.scalars(select(ItemOutcome).where(ItemOutcome.category == "monitor"))
        return {(o.outcome, o.reason): o.quantity for o in rows}


def test_first_check_in_creates_the_monitor_from_its_config(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    config = {**HOURLY, "max_runtime": 10, "timezone": "Europe/Berlin"}
    trace = uuid.uuid4().hex
    sent = check_in(
        status="ok",
        duration=2.5,
        release="r1",
        environment="prod",
        monitor_config=config,
        contexts={"trace": {"trace_id": trace}},
    )
    post(client, project, envelope(sent))
    [monitor] = monitors(database)
    assert (monitor.slug, monitor.schedule_type, monitor.schedule_value) == (
        "nightly-export",
        "crontab",
        "0 * * * *",
    )
    assert (monitor.checkin_margin, monitor.max_runtime) == (5, 10)
    assert monitor.timezone == "Europe/Berlin"
    assert monitor.status == "ok" and monitor.last_check_in_at is not None
    assert monitor.next_expected_at is not None and monitor.next_expected_at.minute == 0
    assert monitor.next_expected_at > monitor.last_check_in_at
    [run] = runs(database)
    assert (run.check_in_id, run.status, run.duration) == (sent["check_in_id"], "ok", 2.5)
    assert (run.release, run.environment, run.trace_id) == ("r1", "prod", trace)
    assert run.finished_at is not None and run.started_at is not None
    assert outcomes(database) == {("accepted", "check-in"): 1}


def test_in_progress_then_ok_updates_one_run_and_a_late_in_progress_changes_nothing(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    first = check_in(status="in_progress", monitor_config=HOURLY)
    post(client, project, envelope(first))
    assert monitors(database)[0].status == "new"
    [run] = runs(database)
    assert run.status == "in_progress" and run.finished_at is None
    post(client, project, envelope({**first, "status": "ok", "duration": 3}))
    post(client, project, envelope(first))  # a retry of the start, after the end
    [run] = runs(database)
    assert (run.status, run.duration) == ("ok", 3.0) and run.finished_at is not None
    assert monitors(database)[0].status == "ok"
    # in the same envelope, too
    second = check_in(status="in_progress")
    post(client, project, envelope(second, {**second, "status": "error", "duration": 1}))
    assert [r.status for r in runs(database)] == ["ok", "error"]
    assert monitors(database)[0].status == "error"


def test_a_later_config_updates_the_monitor(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    post(client, project, envelope(check_in(status="ok", monitor_config=HOURLY)))
    interval = {"schedule": {"type": "interval", "value": 2, "unit": "hour"}, "max_runtime": 3}
    post(client, project, envelope(check_in(status="ok", monitor_config=interval)))
    post(client, project, envelope(check_in(status="ok")))  # no config: the monitor stays
    [monitor] = monitors(database)
    assert (monitor.schedule_type, monitor.schedule_value, monitor.schedule_unit) == (
        "interval",
        "2",
        "hour",
    )
    assert (monitor.max_runtime, monitor.checkin_margin) == (3, 1)
    assert len(runs(database)) == 3


BAD = {
    "malformed JSON": b'{"check_in_id": ',
    "not an object": b"[1, 2]",
    "unknown status": check_in(status="done", monitor_config=HOURLY),
    "no slug": {"check_in_id": uuid.uuid4().hex, "status": "ok", "monitor_config": HOURLY},
    "bad id": check_in(check_in_id="not-a-uuid", status="ok", monitor_config=HOURLY),
    "invalid crontab": check_in(
        status="ok", monitor_config={"schedule": {"type": "crontab", "value": "61 * * * *"}}
    ),
    "never runs": check_in(
        status="ok", monitor_config={"schedule": {"type": "crontab", "value": "0 0 31 2 *"}}
    ),
    "bad interval": check_in(
        status="ok", monitor_config={"schedule": {"type": "interval", "value": 0, "unit": "day"}}
    ),
    "bad unit": check_in(
        status="ok", monitor_config={"schedule": {"type": "interval", "value": 1, "unit": "ms"}}
    ),
    "bad timezone": check_in(status="ok", monitor_config={**HOURLY, "timezone": "../../etc"}),
    "bad margin": check_in(status="ok", monitor_config={**HOURLY, "checkin_margin": -1}),
    "config not an object": check_in(status="ok", monitor_config="hourly"),
    "unknown monitor": check_in(monitor_slug="never-configured", status="ok"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_check_ins_become_outcomes_and_the_rest_of_the_envelope_is_kept(
    client: TestClient, project: ProjectKey, database: Database, case: str
) -> None:
    sent = event()
    good = check_in(monitor_slug="good-one", status="ok", monitor_config=HOURLY)
    body = envelope_bytes(sent) + envelope(BAD[case], good)[3:]  # one header, then the items
    post(client, project, body)
    with database.sessions() as session:
        assert session.scalar(select(Event.event_id)) == sent["event_id"]
    assert [m.slug for m in monitors(database)] == ["good-one"]
    assert [r.check_in_id for r in runs(database)] == [good["check_in_id"]]
    counted = outcomes(database)
    assert counted.pop(("accepted", "check-in")) == 1
    [(outcome, _reason)] = counted
    assert outcome == "invalid"


def test_a_check_in_in_a_large_envelope_goes_through_the_large_request_lane(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    sent = event(extra={"blob": "x" * 100_000})  # over 64 KiB: decoded in a process of its own
    body = envelope_bytes(sent) + envelope(check_in(status="ok", monitor_config=HOURLY))[3:]
    post(client, project, body)
    assert [m.slug for m in monitors(database)] == ["nightly-export"]
    assert len(runs(database)) == 1
