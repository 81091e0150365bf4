"""Service impact: how much each service sent, how much failed, which orders it hurt."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session, aliased

from store.clock import hour_of, utcnow
from store.models import EventRollup, JourneyLabel
from store.statuses import FAILED, STALLED


@dataclass(slots=True)
class ServiceImpact:
    service: str
    events: int = 0
    errors: int = 0
    failed_orders: int = 0
    stalled_orders: int = 0
    last_error_at: datetime | None = None


def rollup_filters(
    release: str | None, environment: str | None, since: datetime | None
) -> list[ColumnElement[bool]]:
    """Filters over the hourly counts; `since` counts from the start of its hour."""
    filters: list[ColumnElement[bool]] = []
    if release:
        filters.append(EventRollup.release == release)
    if environment:
        filters.append(EventRollup.environment == environment)
    if since:
        filters.append(EventRollup.hour_at >= hour_of(since))
    return filters


def impacted_orders(
    session: Session, release: str | None, environment: str | None, since: datetime | None
) -> dict[tuple[str, str], int]:
    """(service, status) → failed or stalled orders that service is impacted by."""
    impacted = select(JourneyLabel.value, JourneyLabel.status, func.count()).where(
        JourneyLabel.kind == "impacted", JourneyLabel.status.in_([FAILED, STALLED])
    )
    for kind, value in (("release", release), ("environment", environment)):
        if value:
            # Joined from the release's (or environment's) own failed and stalled journeys,
            # which the label index lists directly.
            other = aliased(JourneyLabel)
            impacted = impacted.join(
                other,
                and_(
                    other.journey_id == JourneyLabel.journey_id,
                    other.kind == kind,
                    other.value == value,
                    other.status.in_([FAILED, STALLED]),
                ),
            )
    if since:
        impacted = impacted.where(JourneyLabel.last_seen_at >= since)
    return {
        (service, status): count
        for service, status, count in session.execute(
            impacted.group_by(JourneyLabel.value, JourneyLabel.status)
        )
    }


def service_impact(
    session: Session,
    *,
    release: str | None = None,
    environment: str | None = None,
    since: datetime | None = None,
) -> list[ServiceImpact]:
    """Every service that sent events (or is impacted by an order), most errors first."""
    rows = session.execute(
        select(
            EventRollup.service,
            func.sum(EventRollup.events),
            func.sum(EventRollup.errors),
            func.max(EventRollup.last_error_at),
        )
        .where(EventRollup.service != "", *rollup_filters(release, environment, since))
        .group_by(EventRollup.service)
    )
    found: dict[str, ServiceImpact] = {}
    for service, events, errors, last_error in rows:
        found[service] = ServiceImpact(service, int(events), int(errors), last_error_at=last_error)
    for (service, status), count in impacted_orders(session, release, environment, since).items():
        impact = found.setdefault(service, ServiceImpact(service))
        if status == FAILED:
            impact.failed_orders = count
        else:
            impact.stalled_orders = count
    return sorted(
        found.values(), key=lambda s: (-s.failed_orders - s.stalled_orders, -s.errors, s.service)
    )


def service_names(session: Session) -> list[str]:
    """Every service that ever sent an event (from the hourly counts, not the events)."""
    return sorted(s for (s,) in session.execute(select(EventRollup.service).distinct()) if s)


def hourly_counts(
    session: Session,
    *,
    service: str | None = None,
    release: str | None = None,
    hours: int = 24,
    now: datetime | None = None,
) -> list[tuple[datetime, int, int]]:
    """(hour, events, errors) for each of the last `hours` hours, zero where nothing came."""
    end = hour_of(now or utcnow())
    start = end - timedelta(hours=hours - 1)
    query = (
        select(EventRollup.hour_at, func.sum(EventRollup.events), func.sum(EventRollup.errors))
        .where(EventRollup.hour_at >= start)
        .group_by(EventRollup.hour_at)
    )
    if service is not None:
        query = query.where(EventRollup.service == service)
    if release is not None:
        query = query.where(EventRollup.release == release)
    rows = {hour: (int(events), int(errors)) for hour, events, errors in session.execute(query)}
    return [
        (at, *rows.get(at, (0, 0))) for at in (start + timedelta(hours=i) for i in range(hours))
    ]
