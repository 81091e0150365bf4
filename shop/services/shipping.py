"""shipping: ships paid orders (ShipmentRequested → ShipmentSent, then ShipmentDelivered).

With the `shipping_down` fault nothing consumes shipment requests: they wait in the stream and
the orders stall after payment, until the fault is lifted.
"""

import uuid
from dataclasses import dataclass
from functools import partial

import sentry_sdk
from fastapi import FastAPI
from redis import Redis

from shop import queue
from shop.instrument import init_sentry, log_step
from shop.services.common import (
    FaultView,
    liveness_router,
    queue_consumer,
    redis_client,
    run_consumers,
)
from shop.settings import ShopSettings

SENT = "shipped - pending delivery"
DELIVERED = "delivered"


@dataclass(frozen=True)
class ShippingContext:
    redis: Redis
    faults: FaultView


def ship(shipping: ShippingContext, message: queue.Message) -> None:
    order_id = str(message.data["_id"])
    tracking = str(uuid.uuid4())
    sentry_sdk.set_tag("order_id", order_id)
    sentry_sdk.set_tag("tracking_number", tracking)
    sentry_sdk.add_breadcrumb(
        category="ShipmentRequested",
        level="info",
        data={
            "OrderID": order_id,
            "Status": "requested",
            "Delivery": message.data.get("delivery"),
        },
    )
    for event, status in (("ShipmentSent", SENT), ("ShipmentDelivered", DELIVERED)):
        queue.publish(
            shipping.redis,
            queue.SHIPMENT_EVENTS,
            domain="Shipment",
            source="shipping",
            type=event,
            data={"trackingNumber": tracking, "orderNumber": order_id, "status": status},
        )
        sentry_sdk.add_breadcrumb(
            category=event,
            level="info",
            data={"OrderID": order_id, "TrackingNumber": tracking, "Status": status},
        )
    log_step("order {order_id} shipped, tracking number {tracking}", order_id, tracking=tracking)
    sentry_sdk.capture_message(f"order {order_id} successfully delivered")


def create_app(settings: ShopSettings) -> FastAPI:
    init_sentry("shipping", settings)
    redis = redis_client(settings)
    shipping = ShippingContext(redis, FaultView(redis))
    consumer = queue_consumer(
        settings,
        redis,
        queue.SHIPMENT_REQUESTS,
        "shipping",
        partial(ship, shipping),
        paused=lambda: shipping.faults.current().shipping_down,
    )
    app = FastAPI(title="ACME shipping", lifespan=run_consumers([consumer]))
    app.state.context = shipping
    app.include_router(liveness_router("shipping service is alive"))
    return app
