"""shipping: ships paid orders (ShipmentRequested → ShipmentSent, then ShipmentDelivered).

With the `shipping_down` fault nothing consumes shipment requests: they wait in the stream and
the orders stall after payment, until the fault is lifted.
"""

import uuid
from typing import Any

import sentry_sdk
from fastapi import FastAPI

from shop import queue
from shop.instrument import init_sentry
from shop.services.common import FaultView, redis_client, run_consumers
from shop.settings import ShopSettings

SENT = "shipped - pending delivery"
DELIVERED = "delivered"


def create_app(settings: ShopSettings) -> FastAPI:
    init_sentry("shipping", settings)
    redis = redis_client(settings)
    faults = FaultView(redis)

    def ship(message: queue.Message) -> None:
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
                redis,
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
        sentry_sdk.capture_message(f"order {order_id} successfully delivered")

    consumer = queue.Consumer(
        redis,
        queue.SHIPMENT_REQUESTS,
        "shipping",
        ship,
        claim_idle_ms=settings.claim_idle_ms,
        max_deliveries=settings.max_deliveries,
        paused=lambda: faults.current().shipping_down,
    )
    app = FastAPI(title="ACME shipping", lifespan=run_consumers([consumer]))

    @app.get("/liveness")
    def liveness() -> dict[str, Any]:
        return {"message": "shipping service is alive", "status": 200}

    return app
