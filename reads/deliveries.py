"""Reading the webhook deliveries sentry.io sent, newest first."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from reads import schemas
from reads.paging import page_by_id
from store.models import WebhookDelivery


def list_deliveries(
    *, session: Session, resource: str | None, limit: int, cursor: int | None
) -> schemas.DeliveryList:
    query = select(WebhookDelivery)
    if resource:
        query = query.where(WebhookDelivery.resource == resource)
    deliveries, next_cursor = page_by_id(session, WebhookDelivery, query, limit, cursor)
    return schemas.DeliveryList(
        deliveries=[schemas.DeliverySummary.model_validate(d) for d in deliveries],
        next_cursor=next_cursor,
    )
