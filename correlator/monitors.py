"""The cron monitor checker: missed and timed-out runs (docs/protocol.md#check-ins).

A run is **missed** when no check-in came by its expected time plus the monitor's margin: the
checker records a `missed` run and moves the monitor's next expected time on. A run is
**timed out** when it has been `in_progress` longer than the monitor's max runtime.

Safe with several correlator processes on one database: each change is a compare-and-set (the
monitor's `next_expected_at` as read, the run's `in_progress` status), so of two checkers that
saw the same missed run only one records it, and a check-in that arrives between the read and
the write wins over the checker. The clock is injected: tests move it instead of sleeping.
"""

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Connection, Table, select, update

from correlator.settings import MonitorSettings
from store.clock import utcnow
from store.engine import Database
from store.models import CheckIn, Monitor
from store.schedules import next_expected
from store.upsert import insert_ignore

log = logging.getLogger(__name__)

check_in_table = cast(Table, CheckIn.__table__)
MISSED_RUN = uuid.UUID("5d6c3c1e-8f0a-4d3b-9a51-0c6f3b6a2e77")  # namespace of missed runs' ids
SHORTEST_RUNTIME = timedelta(minutes=1)


@dataclass(slots=True)
class CheckResult:
    missed: int = 0
    timed_out: int = 0


@dataclass(frozen=True, slots=True)
class _Due:
    """A monitor whose expected run is past its margin, as read."""

    id: int
    project_id: int
    schedule_type: str
    schedule_value: str
    schedule_unit: str | None
    timezone: str
    checkin_margin: int
    next_expected_at: datetime


@dataclass(frozen=True, slots=True)
class _Running:
    """An in-progress run past its monitor's max runtime, as read."""

    id: int
    monitor_id: int


def _next_after_miss(monitor: _Due, now: datetime) -> datetime | None:
    """The slot after the missed one; after a long silence (the checker was down, a minutely
    job stopped for a day) the first slot still to come, so one pass records one missed run
    per monitor, not one per slot."""
    margin = timedelta(minutes=monitor.checkin_margin)
    following = _next(monitor, monitor.next_expected_at)
    if following is not None and following + margin < now:
        following = _next(monitor, now - margin)
    return following


def _next(monitor: _Due, after: datetime) -> datetime | None:
    return next_expected(
        monitor.schedule_type,
        monitor.schedule_value,
        monitor.schedule_unit,
        monitor.timezone,
        after,
    )


class MonitorChecker:
    def __init__(
        self,
        database: Database,
        settings: MonitorSettings | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self.settings = settings or MonitorSettings()
        self.clock = clock

    def run_once(self) -> CheckResult:
        """One check. Reads without the write lock; takes it only when something is due."""
        now = self.clock()
        with self.database.engine.connect() as connection:
            missed = self._overdue(connection, now)
            timed_out = self._overrun(connection, now)
            connection.rollback()
        if not missed and not timed_out:
            return CheckResult()
        result = CheckResult()
        with self.database.writing() as connection:
            for monitor in missed:
                result.missed += self._record_missed(connection, monitor, now)
            for run in timed_out:
                result.timed_out += self._time_out(connection, run, now)
            connection.commit()
        return result

    def _overdue(self, connection: Connection, now: datetime) -> list[_Due]:
        """Monitors whose expected run is past its margin (the margin is per monitor: the
        index narrows by expected time, the margin is checked here)."""
        rows = connection.execute(
            select(
                Monitor.id,
                Monitor.project_id,
                Monitor.schedule_type,
                Monitor.schedule_value,
                Monitor.schedule_unit,
                Monitor.timezone,
                Monitor.checkin_margin,
                Monitor.next_expected_at,
            )
            .where(Monitor.next_expected_at < now)
            .order_by(Monitor.next_expected_at)
            .limit(self.settings.sweep)
        )
        due = [
            _Due(*row[:-1], next_expected_at=row.next_expected_at)
            for row in rows
            if row.next_expected_at is not None
        ]
        return [m for m in due if m.next_expected_at + timedelta(minutes=m.checkin_margin) < now]

    def _overrun(self, connection: Connection, now: datetime) -> list[_Running]:
        rows = connection.execute(
            select(CheckIn.id, CheckIn.monitor_id, CheckIn.started_at, Monitor.max_runtime)
            .join(Monitor, Monitor.id == CheckIn.monitor_id)
            .where(CheckIn.status == "in_progress", CheckIn.started_at < now - SHORTEST_RUNTIME)
            .order_by(CheckIn.started_at)
            .limit(self.settings.sweep)
        )
        return [
            _Running(r.id, r.monitor_id)
            for r in rows
            if r.started_at is not None and r.started_at + timedelta(minutes=r.max_runtime) < now
        ]

    def _record_missed(self, connection: Connection, monitor: _Due, now: datetime) -> int:
        moved = connection.execute(
            update(Monitor)
            .where(Monitor.id == monitor.id, Monitor.next_expected_at == monitor.next_expected_at)
            .values(
                status="missed", next_expected_at=_next_after_miss(monitor, now), updated_at=now
            )
        )
        if moved.rowcount != 1:
            return 0  # a check-in, or another checker, moved it first
        expected = monitor.next_expected_at
        run_id = uuid.uuid5(MISSED_RUN, f"{monitor.id}:{expected.isoformat()}").hex
        insert_ignore(
            connection,
            check_in_table,
            [
                {
                    "project_id": monitor.project_id,
                    "monitor_id": monitor.id,
                    "check_in_id": run_id,
                    "status": "missed",
                    "expected_at": expected,
                    "received_at": now,
                    "updated_at": now,
                }
            ],
            ["project_id", "check_in_id"],
        )
        return 1

    def _time_out(self, connection: Connection, run: _Running, now: datetime) -> int:
        changed = connection.execute(
            update(CheckIn)
            .where(CheckIn.id == run.id, CheckIn.status == "in_progress")
            .values(status="timeout", finished_at=now, updated_at=now)
        )
        if changed.rowcount != 1:
            return 0  # it finished, or another checker got there first
        connection.execute(
            update(Monitor)
            .where(Monitor.id == run.monitor_id)
            .values(status="timeout", updated_at=now)
        )
        return 1

    def run_forever(self, stop: threading.Event) -> None:
        """Checks every `check_interval` seconds until `stop` is set; a failed check (the
        database away) is logged and tried again at the next one."""
        while not stop.is_set():
            try:
                result = self.run_once()
                if result.missed or result.timed_out:
                    log.info("monitors: %s", result)
            except Exception:
                log.exception(
                    "monitor check failed; trying again in %.0f s", self.settings.check_interval
                )
            stop.wait(self.settings.check_interval)


class MonitorThread:
    """The checker inside a process that runs the correlator role."""

    def __init__(self, checker: MonitorChecker) -> None:
        self.checker = checker
        self.stop_event = threading.Event()
        self.thread = threading.Thread(
            target=checker.run_forever, args=(self.stop_event,), name="monitors", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)
