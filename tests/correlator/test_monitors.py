"""The monitor checker with an injected clock: missed runs, timeouts, several checkers."""

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from collector.batch import IngestBatch
from collector.checkins import read_check_in
from collector.persist_checkins import write_check_ins
from correlator.monitors import MonitorChecker
from correlator.settings import MonitorSettings
from sentrail.app import create_app
from sentrail.settings import known_names
from store.engine import Database
from store.models import CheckIn, Monitor
from store.settings import DatabaseSettings
from tests.conftest import ProjectKey

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
EVERY_TEN = {
    "schedule": {"type": "crontab", "value": "*/10 * * * *"},
    "checkin_margin": 5,
    "max_runtime": 30,
}


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def send(database: Database, project: ProjectKey, at: datetime, **fields: Any) -> str:
    """A check-in as the collector stores it, received at `at`."""
    item = {"check_in_id": uuid.uuid4().hex, "monitor_slug": "export", **fields}
    batch = IngestBatch(project.id, check_ins=[read_check_in(item, at)])
    with database.writing() as connection:
        write_check_ins(connection, [batch])
        connection.commit()
    return str(item["check_in_id"])


def checker(database: Database, at: datetime) -> MonitorChecker:
    return MonitorChecker(database, clock=lambda: at)


def monitor(database: Database) -> Monitor:
    with database.sessions() as session:
        return session.scalars(select(Monitor)).one()


def runs(database: Database) -> list[CheckIn]:
    with database.sessions() as session:
        return list(session.scalars(select(CheckIn).order_by(CheckIn.id)))


def test_a_monitor_that_stops_checking_in_is_missed_after_its_margin(
    database: Database, project: ProjectKey
) -> None:
    send(database, project, minutes(2), status="ok", monitor_config=EVERY_TEN)
    assert monitor(database).next_expected_at == minutes(10)
    assert checker(database, minutes(14.9)).run_once().missed == 0  # still within the margin
    assert checker(database, minutes(15.1)).run_once().missed == 1
    found = monitor(database)
    assert (found.status, found.next_expected_at) == ("missed", minutes(20))
    missed = runs(database)[-1]
    assert (missed.status, missed.expected_at, missed.received_at) == (
        "missed",
        minutes(10),
        minutes(15.1),
    )
    # checking again, or from a second process, records nothing more
    assert checker(database, minutes(15.2)).run_once().missed == 0
    # the next run on time makes it ok again
    send(database, project, minutes(20.5), status="ok")
    assert monitor(database).status == "ok"
    assert [r.status for r in runs(database)] == ["ok", "missed", "ok"]


def test_a_long_silence_is_one_missed_run_and_the_schedule_picks_up_from_now(
    database: Database, project: ProjectKey
) -> None:
    send(database, project, minutes(2), status="ok", monitor_config=EVERY_TEN)
    assert checker(database, minutes(180)).run_once().missed == 1
    assert monitor(database).next_expected_at == minutes(180)
    assert checker(database, minutes(184)).run_once().missed == 0
    assert checker(database, minutes(186)).run_once().missed == 1
    assert [r.expected_at for r in runs(database) if r.status == "missed"] == [
        minutes(10),
        minutes(180),
    ]


def test_an_in_progress_run_past_its_max_runtime_times_out(
    database: Database, project: ProjectKey
) -> None:
    run_id = send(database, project, minutes(0), status="in_progress", monitor_config=EVERY_TEN)
    send(database, project, minutes(10), status="in_progress")  # the next run, still going
    result = checker(database, minutes(29)).run_once()
    assert (result.timed_out, result.missed) == (0, 1)  # nothing checked in for 10:20
    assert checker(database, minutes(31)).run_once().timed_out == 1
    assert [r.status for r in runs(database)] == ["timeout", "in_progress", "missed"]
    assert monitor(database).status == "timeout"
    # the late end of the timed-out run does not undo the timeout
    send(database, project, minutes(32), check_in_id=run_id, status="ok", duration=1920)
    assert runs(database)[0].status == "timeout"
    assert checker(database, minutes(32)).run_once().timed_out == 0
    assert checker(database, minutes(41)).run_once().timed_out == 1  # the 10:10 run


def test_two_checkers_that_saw_the_same_missed_run_record_it_once(
    database: Database, project: ProjectKey
) -> None:
    send(database, project, minutes(2), status="ok", monitor_config=EVERY_TEN)
    first, second = checker(database, minutes(16)), checker(database, minutes(16))
    with database.engine.connect() as connection:
        seen_by_second = second._overdue(connection, minutes(16))
    assert first.run_once().missed == 1
    with database.writing() as connection:
        assert [second._record_missed(connection, m, minutes(16)) for m in seen_by_second] == [0]
        connection.commit()
    assert [r.status for r in runs(database)] == ["ok", "missed"]


def test_a_check_in_between_the_read_and_the_write_wins(
    database: Database, project: ProjectKey
) -> None:
    send(database, project, minutes(2), status="ok", monitor_config=EVERY_TEN)
    late = checker(database, minutes(16))
    with database.engine.connect() as connection:
        due = late._overdue(connection, minutes(16))
    assert len(due) == 1
    send(database, project, minutes(15.9), status="ok")  # late, but before the check wrote
    with database.writing() as connection:
        assert late._record_missed(connection, due[0], minutes(16)) == 0
        connection.commit()
    assert monitor(database).status == "ok"
    assert [r.status for r in runs(database)] == ["ok", "ok"]


def test_interval_monitors_in_a_timezone_are_checked_too(
    database: Database, project: ProjectKey
) -> None:
    config = {
        "schedule": {"type": "interval", "value": 1, "unit": "day"},
        "checkin_margin": 30,
        "timezone": "America/New_York",
    }
    send(database, project, minutes(0), status="ok", monitor_config=config)
    assert monitor(database).next_expected_at == minutes(24 * 60)
    assert checker(database, minutes(24 * 60 + 29)).run_once().missed == 0
    assert checker(database, minutes(24 * 60 + 31)).run_once().missed == 1


def test_the_correlator_role_runs_the_checker_and_its_settings_are_known(
    database_url: str,
) -> None:
    settings = MonitorSettings(check_interval=0.05)
    app = create_app(
        DatabaseSettings(database_url=database_url),
        roles=frozenset({"correlator"}),
        monitor_settings=settings,
    )
    with TestClient(app):
        assert "monitors" in {thread.name for thread in threading.enumerate()}
    assert "monitors" not in {thread.name for thread in threading.enumerate()}
    assert {"SENTRAIL_MONITOR_CHECK_INTERVAL", "SENTRAIL_MONITOR_SWEEP"} <= known_names()
