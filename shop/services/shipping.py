"""shipping: ships paid orders (ShipmentRequested → ShipmentSent, then ShipmentDelivered).

Instrumented with OpenTelemetry, not sentry-sdk (shop/otel.py): each shipment is a consumer
span that continues the order's trace, its business steps are OpenTelemetry log records with
the order id as an attribute, and both go to sentrail over OTLP.

With the `shipping_down` fault nothing consumes shipment requests: they wait in the stream and
the orders stall after payment, until the fault is lifted.
"""

import uuid
from dataclasses import dataclass
from functools import partial

from fastapi import FastAPI
from opentelemetry.trace import SpanKind
from redis import Redis

from shop import queue
from shop.otel import Telemetry, init_otel, parent_of, sentry_trace_of
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
    telemetry: Telemetry


def ship(shipping: ShippingContext, message: queue.Message) -> None:
    order_id = str(message.data["_id"])
    tracking = str(uuid.uuid4())
    telemetry = shipping.telemetry
    keys = {"order_id": order_id, "tracking_number": tracking}
    with telemetry.tracer.start_as_current_span(
        f"shipping: {message.type}",
        context=parent_of(message.headers),
        kind=SpanKind.CONSUMER,
        attributes={
            **keys,
            "messaging.system": "redis",
            "messaging.destination.name": message.stream,
            "messaging.message.id": message.id,
            "delivery": str(message.data.get("delivery")),
        },
    ) as span:
        for event, status in (("ShipmentSent", SENT), ("ShipmentDelivered", DELIVERED)):
            queue.publish(
                shipping.redis,
                queue.SHIPMENT_EVENTS,
                domain="Shipment",
                source="shipping",
                type=event,
                data={"trackingNumber": tracking, "orderNumber": order_id, "status": status},
                sentry_trace=sentry_trace_of(span),
            )
            span.add_event(event, {"OrderID": order_id, "Status": status})
        telemetry.info(f"order {order_id} shipped, tracking number {tracking}", **keys)
        telemetry.info(f"order {order_id} successfully delivered", **keys)
    telemetry.flush()


def create_app(settings: ShopSettings) -> FastAPI:
    telemetry = init_otel("shipping", settings)
    redis = redis_client(settings)
    shipping = ShippingContext(redis, FaultView(redis), telemetry)
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
