"""Journeys built by the worker from events that went through the real ingest path."""

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from correlator.settings import CorrelatorSettings
from correlator.worker import Correlator
from store.engine import Database
from store.models import Journey, JourneyEvent, JourneyLabel
from tests.correlator.shop_events import BASE, Shop, at


def new_ids() -> tuple[str, str]:
    return str(uuid.uuid4()), uuid.uuid4().hex


def correlate(database: Database, now: datetime | None = None) -> Correlator:
    correlator = Correlator(database, clock=(lambda: now) if now else _now)
    correlator.run_until_idle()
    return correlator


def _now() -> datetime:
    return datetime.now(UTC)


def journey(database: Database, order: str) -> Journey:
    with database.sessions() as session:
        found = session.scalar(select(Journey).where(Journey.key == order))
        assert found is not None, f"no journey for {order}"
        return found


def test_completed_journey_has_every_hop(shop: Shop, database: Database) -> None:
    order, trace = new_ids()
    shop.checkout(order, trace)
    correlate(database)
    found = journey(database, order)
    assert found.status == "completed"
    assert found.failed_service is None
    assert found.services == ["frontend", "order", "payment", "shipping"]
    assert [h["status"] for h in found.hops] == ["ok"] * 5
    assert found.trace_ids == [trace]
    assert found.event_count == 5
    assert found.missing_hops == []


def test_payment_error_fails_the_journey_at_payment(shop: Shop, database: Database) -> None:
    shop.checkout(*new_ids())  # every service has sent an event: every hop is expected
    order, trace = new_ids()
    shop.checkout(order, trace, upto="payment-error")
    correlate(database)
    found = journey(database, order)
    assert (found.status, found.failed_service) == ("failed", "payment")
    assert found.impacted_services == ["payment"]
    assert [h["status"] for h in found.hops] == ["ok", "ok", "failed", "not_reached", "not_reached"]
    assert found.error_count == 1


def test_missing_shipping_stalls_after_the_configured_time(shop: Shop, database: Database) -> None:
    shop.checkout(*new_ids())  # shipping is a service this system has
    order, trace = new_ids()
    shop.checkout(order, trace, upto="shipment-requested")
    last = BASE + timedelta(seconds=2)
    correlate(database, now=last + timedelta(seconds=10))
    assert journey(database, order).status == "in_progress"
    correlate(database, now=last + timedelta(seconds=301))
    found = journey(database, order)
    assert (found.status, found.failed_service) == ("stalled", "shipping")
    assert found.missing_hops == ["shipping"]
    assert found.impacted_services == ["shipping"]
    assert found.hops[-1]["status"] == "missing"


def test_acme_rules_never_stall_another_systems_order_at_frontend(
    shop: Shop, database: Database
) -> None:
    """The issue as reported: with the default rules, an order of another system (its own
    services, the same order_id tag) must not become stalled at `frontend`."""
    order, trace = str(uuid.uuid4()), uuid.uuid4().hex
    shop.send(
        shop.transaction("web", 0, trace, order), shop.transaction("billing", 1, trace, order)
    )
    correlate(database, now=BASE + timedelta(hours=1))
    found = journey(database, order)
    assert (found.flow, found.status, found.failed_service) == ("checkout", "completed", None)
    assert found.hops == [] and found.missing_hops == []
    with database.sessions() as session:
        assert (
            session.scalars(select(JourneyLabel).where(JourneyLabel.kind == "impacted")).all() == []
        )


def test_order_id_in_breadcrumb_message_or_only_a_shared_trace(
    shop: Shop, database: Database
) -> None:
    order, trace = new_ids()
    in_breadcrumb = shop.message(
        "payment",
        1,
        uuid.uuid4().hex,
        "card checked",
        breadcrumbs={
            "values": [
                {"category": "CreditCardValidated", "data": {"OrderID": order, "Success": True}}
            ]
        },
    )
    in_text = shop.message("shipping", 3, uuid.uuid4().hex, f"order {order} successfully delivered")
    trace_only = shop.message("catalog", 0.5, trace, "product lookup slow", level="warning")
    # The keyless event arrives first, in a pass of its own; the keyed ones come later.
    shop.send(trace_only)
    correlate(database)
    shop.send(shop.transaction("order", 0.2, trace, order))
    shop.send(in_breadcrumb, in_text)
    correlate(database)
    found = journey(database, order)
    assert set(found.services) == {"order", "catalog", "payment", "shipping"}
    assert found.event_count == 4
    with database.sessions() as session:
        via = dict(
            session.execute(select(JourneyEvent.via, func.count()).group_by(JourneyEvent.via)).all()
        )
    assert via == {"key": 3, "trace": 1}


def test_an_event_on_a_trace_shared_by_two_orders_joins_neither(
    shop: Shop, database: Database
) -> None:
    shop.checkout(*new_ids())  # payment is a service this system has
    (first, trace), (second, _) = new_ids(), new_ids()
    shop.send(shop.transaction("order", 0, trace, first))
    shop.send(shop.message("catalog", 1, trace, "lookup failed", level="error"))
    correlate(database)
    assert journey(database, first).services == ["order", "catalog"]
    shop.send(shop.transaction("order", 2, trace, second))
    correlate(database)
    assert journey(database, first).services == ["order"]
    # Without the catalog error the order is no longer failed: it waits for payment.
    assert (journey(database, first).status, journey(database, first).failed_service) == (
        "stalled",
        "payment",
    )
    assert journey(database, second).services == ["order"]


def test_on_a_trace_shared_by_two_orders_span_parentage_places_the_callee(
    shop: Shop, database: Database, client: TestClient
) -> None:
    """Two orders sent one after another on one trace (an SDK with no transaction keeps the
    trace of its scope): the catalog's transaction and error carry no order id, but the catalog
    transaction's parent is a span of the first order's keyed transaction."""
    shop.checkout(*new_ids())  # every hop is a service this system has
    (first, trace), (second, _) = new_ids(), new_ids()
    order_span, call_span, catalog_span = (uuid.uuid4().hex[:16] for _ in range(3))
    caller = shop.transaction("order", 0, trace, first, duration=1)
    caller["contexts"]["trace"]["span_id"] = order_span
    caller["spans"] = [
        {
            "trace_id": trace,
            "span_id": call_span,
            "parent_span_id": order_span,
            "op": "http.client",
            "description": "GET http://catalog/products",
            "start_timestamp": at(0.1),
            "timestamp": at(0.5),
        }
    ]
    callee = shop.transaction("catalog", 0.2, trace, None)
    callee["contexts"]["trace"].update(span_id=catalog_span, parent_span_id=call_span)
    crash = shop.message("catalog", 0.3, trace, "KeyError: 'sku'", level="error")
    crash["contexts"]["trace"].update(span_id=catalog_span, parent_span_id=call_span)
    consequence = shop.message(
        "order", 0.6, trace, f"catalog failed for order {first}", level="error"
    )
    # The second order's events arrive on the same trace, before and after the catalog's.
    shop.send(shop.transaction("users", 0.1, trace, second), crash, callee)
    shop.send(caller, consequence, shop.transaction("order", 2, trace, second))
    correlate(database)

    found = journey(database, first)
    assert (found.status, found.failed_service) == ("failed", "catalog")
    assert "catalog" in found.services
    assert "catalog" not in journey(database, second).services
    detail = client.get(f"/api/v1/orders/{first}").json()
    placed = [e["joined_by"] for e in detail["events"] if e["service"] == "catalog"]
    caller_id = caller["event_id"]
    assert placed == [{"via": "span", "value": order_span, "through": caller_id}] * 2


def test_without_transactions_the_callers_keyed_error_names_the_callees_order(
    shop: Shop, database: Database
) -> None:
    """Tracing off: no transaction, no stored span. An SDK still sends each error with its
    scope's trace and span ids, and a callee's error names the caller's span as its parent."""
    shop.checkout(*new_ids())
    (first, trace), (second, _) = new_ids(), new_ids()
    caller_span, callee_span, other_span = (uuid.uuid4().hex[:16] for _ in range(3))
    crash = shop.message("catalog", 0.3, trace, "KeyError: 'sku'", level="error")
    crash["contexts"]["trace"].update(span_id=callee_span, parent_span_id=caller_span)
    consequence = shop.message(
        "order", 0.6, trace, f"catalog failed for order {first}", level="error"
    )
    consequence["contexts"]["trace"]["span_id"] = caller_span
    other = shop.message("order", 2, trace, f"payment declined for order {second}", level="error")
    other["contexts"]["trace"]["span_id"] = other_span
    shop.send(crash, other, consequence)
    correlate(database)
    assert (journey(database, first).failed_service, journey(database, first).services) == (
        "catalog",
        ["catalog", "order"],
    )
    assert journey(database, second).services == ["order"]


def snapshot(database: Database) -> dict[str, tuple[Any, ...]]:
    with database.sessions() as session:
        return {
            j.key: (
                j.status,
                j.failed_service,
                j.services,
                j.impacted_services,
                j.missing_hops,
                j.hops,
                j.event_count,
                j.trace_ids,
            )
            for j in session.scalars(select(Journey))
        }


def many_orders(shop: Shop) -> list[str]:
    orders = []
    for i, upto in enumerate(["shipping", "payment-error", "shipment-requested", "order"] * 5):
        order, trace = new_ids()
        shop.checkout(order, trace, upto=upto, t0=i * 5)
        shop.send(shop.message("cart", i * 5, trace, "redis slow", level="warning"))
        orders.append(order)
    return orders


def test_rebuild_reproduces_the_incremental_result(shop: Shop, database: Database) -> None:
    now = BASE + timedelta(hours=1)
    correlator = Correlator(database, settings=CorrelatorSettings(batch_size=7), clock=lambda: now)
    orders = many_orders(shop)
    correlator.run_until_idle()
    incremental = snapshot(database)
    assert set(incremental) == set(orders)
    statuses = sorted(v[0] for v in incremental.values())
    assert statuses == sorted(["completed", "failed", "stalled", "stalled"] * 5)
    correlator.rebuild()
    assert snapshot(database) == incremental


def test_concurrent_workers_build_what_one_would(shop: Shop, database: Database) -> None:
    now = BASE + timedelta(hours=1)
    many_orders(shop)
    clock: Callable[[], datetime] = lambda: now  # noqa: E731
    reference = Correlator(database, clock=clock)
    reference.run_until_idle()
    expected = snapshot(database)
    workers = [
        Correlator(database, settings=CorrelatorSettings(batch_size=5), clock=clock)
        for _ in range(3)
    ]
    workers[0].reset()
    errors: list[BaseException] = []

    def run(worker: Correlator) -> None:
        try:
            worker.run_until_idle()
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert snapshot(database) == expected
    with database.sessions() as session:
        members = session.scalar(select(func.count()).select_from(JourneyEvent))
        distinct = session.scalar(
            select(func.count()).select_from(
                select(JourneyEvent.event_row_id).distinct().subquery()
            )
        )
    assert members == distinct
