"""payment: validates cards (for PaymentRequested messages, and at POST /pay).

Instrumented as the write-up says: a CreditCardValidated breadcrumb on every validation; a
captured ValueError on failure, a captured message on success (and only then: upstream sent
"validation successful" for failures too). The card never reaches Sentry unmasked.
"""

import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any

import sentry_sdk
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from redis import Redis

from shop import queue
from shop.cards import Card, mask, validate
from shop.faults import share_hit
from shop.instrument import init_sentry, log_step
from shop.payloads import CardIn
from shop.services.common import (
    FaultView,
    liveness_router,
    queue_consumer,
    redis_client,
    run_consumers,
)
from shop.settings import ShopSettings


class PaymentCrash(RuntimeError):
    """The payment processor falling over (fault injection)."""


class Payment(BaseModel):
    card: CardIn
    total: float
    orderID: str = ""


def charge(order_id: str, card: CardIn, total: float) -> dict[str, Any]:
    """Validates the card; reports to Sentry as the write-up does; returns CreditCardValidated."""
    reason = validate(
        Card(
            number=card.number,
            exp_month=card.expMonth,
            exp_year=card.expYear,
            cvv=card.ccv,
            type=card.type or None,
        )
    )
    success = reason is None
    result: dict[str, Any] = {
        "success": success,
        "status": 200 if success else 400,
        "message": "transaction successful" if success else reason,
        "amount": total,
        "transactionID": str(uuid.uuid4()) if success else "-1",
        "orderID": order_id,
    }
    crumb = {
        "Amount": total,
        "OrderID": order_id,
        "Success": success,
        "Message": result["message"],
        "Card": mask(card.number),
    }
    if success:
        crumb["TransactionID"] = result["transactionID"]
    sentry_sdk.add_breadcrumb(category="CreditCardValidated", level="info", data=crumb)
    if success:
        log_step("order {order_id} charged {total}", order_id, total=total)
        sentry_sdk.capture_message(f"validation successful for order [{order_id}]")
    else:
        log_step("order {order_id} card refused: {reason}", order_id, warn=True, reason=reason)
        try:  # raised and caught: the event carries the stack trace Sentry groups by
            raise ValueError(f"validation failed for order [{order_id}] : {reason}")
        except ValueError:
            sentry_sdk.capture_exception()
    return result


@dataclass(frozen=True)
class PaymentContext:
    redis: Redis
    faults: FaultView

    def validated(self, result: dict[str, Any]) -> None:
        queue.publish(
            self.redis,
            queue.PAYMENT_RESULTS,
            domain="Payment",
            source="payment",
            type="CreditCardValidated",
            data=result,
        )


def requested(payments: PaymentContext, message: queue.Message) -> None:
    data = message.data
    order_id = str(data["orderID"])
    sentry_sdk.set_tag("order_id", order_id)
    if share_hit(order_id, payments.faults.current().payment_crash_share):
        raise PaymentCrash(f"payment processor crashed while charging order [{order_id}]")
    result = charge(order_id, CardIn.model_validate(data["card"]), float(data["total"]))
    if result["success"]:
        sentry_sdk.set_tag("transaction_id", result["transactionID"])
    payments.validated(result)


def gave_up(payments: PaymentContext, message: queue.Message) -> None:
    """A request that crashed on every delivery: tell order it failed, so it does not wait."""
    order_id = str(message.data.get("orderID", ""))
    sentry_sdk.set_tag("order_id", order_id)
    payments.validated(
        {
            "success": False,
            "status": 500,
            "message": "payment processing failed",
            "amount": message.data.get("total"),
            "transactionID": "-1",
            "orderID": order_id,
        }
    )


routes = APIRouter()


@routes.post("/pay")
def pay(body: Payment) -> dict[str, Any]:
    order_id = body.orderID or str(uuid.uuid4())
    sentry_sdk.set_tag("order_id", order_id)
    return charge(order_id, body.card, body.total)


def create_app(settings: ShopSettings) -> FastAPI:
    init_sentry("payment", settings)
    redis = redis_client(settings)
    payments = PaymentContext(redis, FaultView(redis))
    consumer = queue_consumer(
        settings,
        redis,
        queue.PAYMENT_REQUESTS,
        "payment",
        partial(requested, payments),
        on_dead_letter=partial(gave_up, payments),
    )
    app = FastAPI(title="ACME payment", lifespan=run_consumers([consumer]))
    app.state.context = payments
    app.include_router(routes)
    app.include_router(liveness_router("payment service is alive"))
    return app
