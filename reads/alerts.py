"""Reading alerts and their notifications, newest first (docs/reference.md#alerts)."""

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reads import schemas
from reads.paging import page_by_id
from store.models import Alert, AlertDelivery


def _delivery(row: AlertDelivery) -> schemas.AlertDeliverySummary:
    summary = schemas.AlertDeliverySummary.model_validate(row)
    if row.status != "pending":
        summary.next_attempt_at = None  # only a pending one has a next attempt
    return summary


def list_alerts(
    *,
    session: Session,
    status: str | None,
    rule: str | None,
    limit: int,
    cursor: int | None,
) -> schemas.AlertList:
    query = select(Alert)
    if status:
        query = query.where(Alert.status == status)
    if rule:
        query = query.where(Alert.rule == rule)
    found, next_cursor = page_by_id(session, Alert, query, limit, cursor)
    deliveries: dict[int, list[schemas.AlertDeliverySummary]] = defaultdict(list)
    if found:
        for row in session.scalars(
            select(AlertDelivery)
            .where(AlertDelivery.alert_id.in_([a.id for a in found]))
            .order_by(AlertDelivery.id)
        ):
            deliveries[row.alert_id].append(_delivery(row))
    firing = session.scalar(select(func.count()).select_from(Alert).where(Alert.status == "firing"))
    dead = session.scalar(
        select(func.count()).select_from(AlertDelivery).where(AlertDelivery.status == "dead")
    )
    return schemas.AlertList(
        alerts=[
            schemas.AlertSummary(
                id=a.id,
                rule=a.rule,
                condition=a.condition,
                group_key=a.group_key,
                status=a.status,
                summary=a.summary,
                value=a.value,
                threshold=a.threshold,
                url=a.url,
                details={k: v for k, v in a.details.items() if k != "payload"},
                fired_at=a.fired_at,
                resolved_at=a.resolved_at,
                deliveries=deliveries.get(a.id, []),
            )
            for a in found
        ],
        firing=firing or 0,
        dead_letters=dead or 0,
        next_cursor=next_cursor,
    )


def list_alert_deliveries(
    *, session: Session, status: str | None, limit: int, cursor: int | None
) -> schemas.AlertDeliveryList:
    """Notifications, newest first; `status="dead"` is the dead-letter list."""
    query = select(AlertDelivery)
    if status:
        query = query.where(AlertDelivery.status == status)
    found, next_cursor = page_by_id(session, AlertDelivery, query, limit, cursor)
    return schemas.AlertDeliveryList(
        deliveries=[_delivery(row) for row in found], next_cursor=next_cursor
    )
