"""order: stores orders, asks payment to charge them and shipping to ship them, over the queue.

Statuses (ACME): Pending Payment → paid | payment failed → shipped - pending delivery →
delivered; "failed" when the order could not be placed (the catalog did not answer for an item).
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

import httpx
import sentry_sdk
from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis import Redis
from sqlalchemy import JSON, DateTime, Float, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from shop import queue
from shop.cards import mask
from shop.database import ShopBase, service_database
from shop.instrument import init_sentry, log_step
from shop.payloads import CardIn, CartLine
from shop.services.common import (
    context_of,
    liveness_router,
    queue_consumer,
    redis_client,
    run_consumers,
)
from shop.settings import ShopSettings

PENDING = "Pending Payment"
PAID = "paid"
PAYMENT_FAILED = "payment failed"
SHIPPED = "shipped - pending delivery"
DELIVERED = "delivered"
FAILED = "failed"


class Order(ShopBase):
    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    userid: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(32))
    total: Mapped[float] = mapped_column(Float)
    # Who failed it (catalog, payment), and the release that took it: the shop's own record.
    failed_service: Mapped[str | None] = mapped_column(String(32))
    release: Mapped[str] = mapped_column(String(64))
    firstname: Mapped[str] = mapped_column(String(100))
    lastname: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200))
    delivery: Mapped[str] = mapped_column(String(32))
    address: Mapped[dict[str, Any]] = mapped_column(JSON)
    card: Mapped[dict[str, Any]] = mapped_column(JSON)  # masked: never the number or the CVV
    cart: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    transaction_id: Mapped[str | None] = mapped_column(String(36))
    tracking_number: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Address(BaseModel):
    street: str = ""
    city: str = ""
    zip: str = ""
    state: str = ""
    country: str = ""


class NewOrder(BaseModel):
    firstname: str = ""
    lastname: str = ""
    email: str = ""
    delivery: str = "UPS"
    address: Address = Address()
    card: CardIn
    cart: list[CartLine]
    total: float


class CatalogUnavailable(RuntimeError):
    """The catalog could not confirm an item of the order."""


def report(error: Exception, cause: Exception) -> None:
    """Captured with its stack trace (raised, then caught), so Sentry groups every such
    failure into one issue whatever the order ID in its message."""
    try:
        raise error from cause
    except type(error):
        sentry_sdk.capture_exception()


def view(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "userid": order.userid,
        "status": order.status,
        "total": order.total,
        "failed_service": order.failed_service,
        "release": order.release,
        "delivery": order.delivery,
        "card": order.card,
        "cart": order.cart,
        "transaction_id": order.transaction_id,
        "tracking_number": order.tracking_number,
        "created_at": order.created_at.isoformat(),
        "updated_at": order.updated_at.isoformat(),
    }


@dataclass(frozen=True)
class OrderContext:
    settings: ShopSettings
    sessions: sessionmaker[Session]
    redis: Redis
    catalog: httpx.Client

    def lookup_product(self, itemid: str) -> None:
        """A GET, so safe to repeat once when the connection broke under it."""
        for attempt in (1, 2):
            try:
                self.catalog.get(f"/products/{itemid}").raise_for_status()
                return
            except httpx.TransportError:
                if attempt == 2:
                    raise

    def set_status(self, order_id: str, status: str, **fields: Any) -> None:
        with self.sessions.begin() as session:
            order = session.get(Order, order_id)
            if order is None:
                raise LookupError(f"no order {order_id}")
            order.status = status
            order.updated_at = datetime.now(UTC)
            for name, value in fields.items():
                setattr(order, name, value)


Orders = Annotated[OrderContext, Depends(context_of(OrderContext))]


def payment_result(orders: OrderContext, message: queue.Message) -> None:
    data = message.data
    order_id = str(data["orderID"])
    sentry_sdk.set_tag("order_id", order_id)
    if not data.get("success"):
        orders.set_status(order_id, PAYMENT_FAILED, failed_service="payment")
        log_step("order {order_id} not paid: {reason}", order_id, warn=True,
                 reason=str(data.get("message", "")))  # fmt: skip
        return
    with orders.sessions() as session:
        order = session.get(Order, order_id)
    if order is None:
        raise LookupError(f"no order {order_id}")
    orders.set_status(order_id, PAID, transaction_id=data.get("transactionID"))
    queue.publish(
        orders.redis,
        queue.SHIPMENT_REQUESTS,
        domain="Order",
        source="order",
        type="ShipmentRequested",
        data={"_id": order_id, "delivery": order.delivery},
    )
    sentry_sdk.add_breadcrumb(
        category="ShipmentRequested", level="info", data={"OrderID": order_id}
    )
    log_step("order {order_id} paid, shipment requested", order_id)
    sentry_sdk.capture_message(f"shipment successfully requested for order [{order_id}]")


def shipment_event(orders: OrderContext, message: queue.Message) -> None:
    data = message.data
    order_id = str(data["orderNumber"])
    sentry_sdk.set_tag("order_id", order_id)
    status = DELIVERED if message.type == "ShipmentDelivered" else SHIPPED
    orders.set_status(order_id, status, tracking_number=data.get("trackingNumber"))
    log_step("order {order_id} is {status}", order_id, status=status)


def new_order(order_id: str, userid: str, body: NewOrder, release: str) -> Order:
    now = datetime.now(UTC)
    return Order(
        id=order_id,
        userid=userid,
        status=PENDING,
        total=body.total,
        failed_service=None,
        release=release,
        firstname=body.firstname,
        lastname=body.lastname,
        email=body.email,
        delivery=body.delivery,
        address=body.address.model_dump(),
        card={
            "type": body.card.type,
            "number": mask(body.card.number),
            "expMonth": body.card.expMonth,
            "expYear": body.card.expYear,
        },
        cart=[line.model_dump() for line in body.cart],
        transaction_id=None,
        tracking_number=None,
        created_at=now,
        updated_at=now,
    )


placing = APIRouter()
reading = APIRouter()


@placing.post("/order/add/{userid}")
def add(userid: str, body: NewOrder, orders: Orders) -> Any:
    order_id = str(uuid.uuid4())
    sentry_sdk.set_tag("order_id", order_id)
    order = new_order(order_id, userid, body, orders.settings.release)
    # Prices and availability come from the catalog, not from the client.
    try:
        for line in body.cart:
            orders.lookup_product(line.itemid)
    except httpx.HTTPError as exc:
        order.status, order.failed_service = FAILED, "catalog"
        with orders.sessions.begin() as session:
            session.add(order)
        log_step("order {order_id} not placed: the catalog did not answer", order_id, warn=True)
        error = CatalogUnavailable(f"catalog lookup failed for order [{order_id}]: {exc}")
        report(error, exc)
        return JSONResponse(
            {"userid": userid, "order_id": order_id, "status": FAILED, "error": str(error)},
            status_code=502,
        )
    with orders.sessions.begin() as session:
        session.add(order)
    log_step("order {order_id} placed, total {total}", order_id, total=body.total)
    sentry_sdk.add_breadcrumb(
        category="PaymentRequested",
        level="info",
        data={"OrderID": order_id, "Total": body.total},
    )
    queue.publish(
        orders.redis,
        queue.PAYMENT_REQUESTS,
        domain="Order",
        source="order",
        type="PaymentRequested",
        data={"orderID": order_id, "card": body.card.model_dump(), "total": body.total},
    )
    return {
        "userid": userid,
        "order_id": order_id,
        "payment": {"success": False, "message": "pending payment"},
    }


@reading.get("/order/all")
def all_orders(orders: Orders) -> dict[str, Any]:
    with orders.sessions() as session:
        return {"data": [view(o) for o in session.scalars(select(Order))]}


@reading.get("/order/{userid}")
def user_orders(userid: str, orders: Orders) -> dict[str, Any]:
    with orders.sessions() as session:
        found = session.scalars(select(Order).where(Order.userid == userid))
        return {"data": [view(o) for o in found]}


def create_app(settings: ShopSettings) -> FastAPI:
    init_sentry("order", settings)
    orders = OrderContext(
        settings,
        service_database(settings.data_dir, "order", Order),
        redis_client(settings),
        # No pooled connections to the catalog: uvicorn closes a connection after an unhandled
        # error (the bad release has many), and a pooled one would then fail the next lookup.
        httpx.Client(
            base_url=settings.url_of("catalog"),
            timeout=5,
            limits=httpx.Limits(max_keepalive_connections=0),
        ),
    )
    consumers = [
        queue_consumer(
            settings, orders.redis, queue.PAYMENT_RESULTS, "order", partial(payment_result, orders)
        ),
        queue_consumer(
            settings, orders.redis, queue.SHIPMENT_EVENTS, "order", partial(shipment_event, orders)
        ),
    ]
    app = FastAPI(title="ACME order", lifespan=run_consumers(consumers))
    app.state.context = orders
    app.include_router(placing)
    app.include_router(reading)
    app.include_router(liveness_router("order service is alive"))
    return app
