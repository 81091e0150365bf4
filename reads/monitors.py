"""Reading cron monitors and their runs (docs/protocol.md#check-ins), newest first."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from reads import schemas
from reads.paging import page_by_id
from store.errors import NotFound
from store.models import CheckIn, Monitor


def monitor_summary(monitor: Monitor) -> schemas.MonitorSummary:
    interval = monitor.schedule_type == "interval" and monitor.schedule_value.isdigit()
    schedule = schemas.MonitorSchedule(
        type="interval" if monitor.schedule_type == "interval" else "crontab",
        value=int(monitor.schedule_value) if interval else monitor.schedule_value,
        unit=monitor.schedule_unit,
    )
    return schemas.from_row(schemas.MonitorSummary, monitor, schedule=schedule)


def list_monitors(
    *, session: Session, status: str | None, limit: int, cursor: int | None
) -> schemas.MonitorList:
    query = select(Monitor)
    if status:
        query = query.where(Monitor.status == status)
    found, next_cursor = page_by_id(session, Monitor, query, limit, cursor)
    return schemas.MonitorList(
        monitors=[monitor_summary(m) for m in found], next_cursor=next_cursor
    )


def find_monitor(session: Session, slug: str, project_id: int | None) -> Monitor:
    """The monitor with this slug; slugs are unique per project, so with several projects
    `project_id` picks one (else the oldest project's)."""
    query = select(Monitor).where(Monitor.slug == slug)
    if project_id is not None:
        query = query.where(Monitor.project_id == project_id)
    monitor = session.scalars(query.order_by(Monitor.project_id).limit(1)).first()
    if monitor is None:
        raise NotFound(f"no monitor {slug}")
    return monitor


def get_monitor(
    *,
    session: Session,
    slug: str,
    project_id: int | None,
    limit: int,
    cursor: int | None,
) -> schemas.MonitorDetail:
    """One monitor and a page of its runs, newest first (the cursor pages the runs)."""
    monitor = find_monitor(session, slug, project_id)
    query = select(CheckIn).where(CheckIn.monitor_id == monitor.id)
    runs, next_cursor = page_by_id(session, CheckIn, query, limit, cursor)
    return schemas.MonitorDetail(
        **monitor_summary(monitor).model_dump(),
        runs=[schemas.from_row(schemas.MonitorRun, run) for run in runs],
        next_cursor=next_cursor,
    )
