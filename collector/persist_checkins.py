"""Storing check-ins (docs/protocol.md#check-ins), inside the writer's transaction.

Idempotent like the rest of ingest (docs/decisions.md#2): a monitor is inserted once per
(project, slug) and a run once per (project, check_in_id); a repeated or late check-in merges
into its run (an `in_progress` never undoes a finished run), and a monitor's last check-in
only moves forward, so replays and racing collectors agree.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, case, func, or_, select, update

from collector.batch import IngestBatch, Outcome, ProjectOutcome
from collector.checkins import CheckInItem
from store.models import CheckIn, Monitor
from store.schedules import next_expected
from store.upsert import insert_for, insert_ignore

monitor_table = cast(Table, Monitor.__table__)
check_in_table = cast(Table, CheckIn.__table__)
TERMINAL = frozenset({"ok", "error"})
UNKNOWN = "unknown monitor and no monitor_config"


@dataclass(frozen=True)
class _Known:
    id: int
    schedule_type: str
    schedule_value: str
    schedule_unit: str | None
    timezone: str

    def next_expected(self, at: datetime) -> datetime | None:
        return next_expected(
            self.schedule_type, self.schedule_value, self.schedule_unit, self.timezone, at
        )


def write_check_ins(connection: Connection, batches: Sequence[IngestBatch]) -> list[ProjectOutcome]:
    """Stores the check-ins; returns an outcome per check-in, for the writer's one count of
    outcomes: `accepted`, or `invalid` for one of a monitor that does not exist and that carried
    no config to make it (category `monitor`, GET /api/v1/outcomes)."""
    items = [(b.project_id, item) for b in batches for item in b.check_ins]
    if not items:
        return []
    # One lock order across collectors (by monitor); the sort is stable, so each monitor's
    # check-ins keep the order they arrived in.
    items.sort(key=lambda pair: (pair[0], pair[1].slug))
    _upsert_monitors(connection, items)
    known = _monitors(connection, {(p, item.slug) for p, item in items})
    outcomes: list[ProjectOutcome] = []
    for project_id, item in items:
        monitor = known.get((project_id, item.slug))
        if monitor is None:  # Sentry too refuses a check-in it cannot place
            outcomes.append((project_id, Outcome("invalid", "monitor", UNKNOWN, 1)))
            continue
        _upsert_run(connection, project_id, monitor.id, item)
        _advance_monitor(connection, monitor, item)
        outcomes.append((project_id, Outcome("accepted", "monitor", "check-in", 1)))
    return outcomes


def _config_columns(item: CheckInItem) -> dict[str, Any]:
    config = item.config
    assert config is not None
    return {
        "schedule_type": config.schedule.kind,
        "schedule_value": config.schedule.value,
        "schedule_unit": config.schedule.unit,
        "checkin_margin": config.checkin_margin,
        "max_runtime": config.max_runtime,
        "timezone": config.timezone,
    }


def _upsert_monitors(connection: Connection, items: list[tuple[int, CheckInItem]]) -> None:
    """New monitors from the check-ins that carry a config; the config of existing ones
    replaced by the latest check-in carrying one."""
    latest: dict[tuple[int, str], CheckInItem] = {}
    for project_id, item in items:
        if item.config is not None:
            latest[(project_id, item.slug)] = item
    if not latest:
        return
    rows = [
        {
            "project_id": project_id,
            "slug": slug,
            **_config_columns(item),
            "status": "new",
            "last_check_in_at": None,
            "next_expected_at": None,
            "created_at": item.received_at,
            "updated_at": item.received_at,
        }
        for (project_id, slug), item in sorted(latest.items())
    ]
    insert_ignore(connection, monitor_table, rows, ["project_id", "slug"])
    for (project_id, slug), item in sorted(latest.items()):
        connection.execute(
            update(monitor_table)
            .where(monitor_table.c.project_id == project_id, monitor_table.c.slug == slug)
            .values(**_config_columns(item), updated_at=item.received_at)
        )


def _monitors(connection: Connection, keys: set[tuple[int, str]]) -> dict[tuple[int, str], _Known]:
    found: dict[tuple[int, str], _Known] = {}
    for project_id in {p for p, _ in keys}:
        slugs = sorted(slug for p, slug in keys if p == project_id)
        rows = connection.execute(
            select(
                monitor_table.c.slug,
                monitor_table.c.id,
                monitor_table.c.schedule_type,
                monitor_table.c.schedule_value,
                monitor_table.c.schedule_unit,
                monitor_table.c.timezone,
            ).where(monitor_table.c.project_id == project_id, monitor_table.c.slug.in_(slugs))
        )
        for slug, *rest in rows:
            found[(project_id, slug)] = _Known(*rest)
    return found


def _upsert_run(
    connection: Connection, project_id: int, monitor_id: int, item: CheckInItem
) -> None:
    """One statement per check-in: PostgreSQL refuses to update a row twice in one INSERT."""
    finished = item.status in TERMINAL
    row = {
        "project_id": project_id,
        "monitor_id": monitor_id,
        "check_in_id": item.check_in_id,
        "status": item.status,
        "duration": item.duration,
        "release": item.release,
        "environment": item.environment,
        "trace_id": item.trace_id,
        "expected_at": None,
        "started_at": item.started_at,
        "finished_at": item.received_at if finished else None,
        "received_at": item.received_at,
        "updated_at": item.received_at,
    }
    table = check_in_table
    statement = insert_for(connection, table)
    new = statement.excluded
    open_run = table.c.status == "in_progress"  # only a run still in progress changes status
    statement = statement.on_conflict_do_update(
        index_elements=["project_id", "check_in_id"],
        set_={
            "status": case((open_run, new.status), else_=table.c.status),
            "duration": case((open_run, func.coalesce(new.duration, table.c.duration)),
                             else_=table.c.duration),
            "finished_at": case((open_run, new.finished_at), else_=table.c.finished_at),
            "release": func.coalesce(table.c.release, new.release),
            "environment": func.coalesce(table.c.environment, new.environment),
            "trace_id": func.coalesce(table.c.trace_id, new.trace_id),
            "updated_at": new.updated_at,
        },
    )  # fmt: skip
    connection.execute(statement, row)


def _advance_monitor(connection: Connection, monitor: _Known, item: CheckInItem) -> None:
    """The monitor's last check-in and next expected run; a finished run sets its status.
    A check-in older than the last one seen (a late delivery) moves nothing."""
    values: dict[str, Any] = {
        "last_check_in_at": item.received_at,
        "next_expected_at": monitor.next_expected(item.received_at),
        "updated_at": item.received_at,
    }
    if item.status in TERMINAL:
        values["status"] = item.status
    connection.execute(
        update(monitor_table)
        .where(
            monitor_table.c.id == monitor.id,
            or_(
                monitor_table.c.last_check_in_at.is_(None),
                monitor_table.c.last_check_in_at <= item.received_at,
            ),
        )
        .values(**values)
    )
