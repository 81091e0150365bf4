"""Every membership explained (docs/decisions.md#12): `joined_by` on each event of
`GET /api/v1/orders/{id}`, by carrier for keyed events and by link and the event it went
through for the others."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event as sa_event
from sqlalchemy import update
from sqlalchemy.engine import Engine

from correlator.worker import Correlator
from store.engine import Database
from store.models import CorrelationKey, Event
from tests.correlator.shop_events import Shop


def trace() -> str:
    return uuid.uuid4().hex


def joined(client: TestClient, order: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/orders/{order}")
    assert response.status_code == 200, response.text
    return {e["event_id"]: e["joined_by"] for e in response.json()["events"]}


def send_order(shop: Shop, order: str, *, repeat: int = 1) -> dict[str, dict[str, Any]]:
    """An order whose events join by tag, message, breadcrumb, trace and transaction_id, and
    one whose own carriers disagree; `repeat` sends the linked and keyed ones that many times."""
    shared, tx, other = trace(), f"tx-{order[:8]}", str(uuid.uuid4())
    sent = {
        "tag": shop.message("order", 0, shared, "order placed", tags={"order_id": order,
                                                                     "transaction_id": tx}),
        "message": shop.message("payment", 1, shared, f"paid for order [{order}]"),
        "breadcrumb": shop.message("payment", 2, trace(), "card checked", breadcrumbs={
            "values": [{"category": "x", "data": {"OrderID": order}}]}),
        "conflict": shop.message("order", 3, trace(), f"moved order [{other}]",
                                 tags={"order_id": order}),
    }  # fmt: skip
    for i in range(repeat):
        sent[f"trace-{i}"] = shop.message("shipping", 4 + i, shared, "label printed")
        sent[f"tx-{i}"] = shop.message("payment", 5 + i, trace(), "settled",
                                       tags={"transaction_id": tx})  # fmt: skip
    for i in range(1, repeat):
        sent[f"tag-{i}"] = shop.message("order", 6 + i, shared, "again", tags={"order_id": order})
    # The message event is sent first but happened later: "through" names the earliest.
    shop.send(sent["message"], *(e for name, e in sent.items() if name != "message"))
    return sent


def test_each_event_says_how_it_joined(client: TestClient, shop: Shop, database: Database) -> None:
    order = str(uuid.uuid4())
    sent = send_order(shop, order)
    Correlator(database).run_until_idle()
    tag_event = sent["tag"]["event_id"]
    shared = sent["tag"]["contexts"]["trace"]["trace_id"]

    def keyed(carrier: str | None, overruled: str | None = None) -> dict[str, Any]:
        return {"via": "key", "key": "order_id", "carrier": carrier, "overruled": overruled}

    assert joined(client, order) == {
        tag_event: keyed("tag:order_id"),
        sent["message"]["event_id"]: keyed("message"),
        sent["breadcrumb"]["event_id"]: keyed("breadcrumb:OrderID"),
        sent["conflict"]["event_id"]: keyed(
            "tag:order_id", f"message={sent['conflict']['message'].split('[')[1][:-1]}"
        ),
        sent["trace-0"]["event_id"]: {"via": "trace", "value": shared, "through": tag_event},
        sent["tx-0"]["event_id"]: {
            "via": "transaction_id", "value": f"tx-{order[:8]}", "through": tag_event,
        },
    }  # fmt: skip


def test_keys_stored_before_carriers_have_no_carrier(
    client: TestClient, shop: Shop, database: Database
) -> None:
    order = str(uuid.uuid4())
    sent = send_order(shop, order)
    Correlator(database).run_until_idle()
    with database.engine.begin() as connection:
        old = connection.scalar(
            Event.__table__.select()  # type: ignore[attr-defined]
            .with_only_columns(Event.id)
            .where(Event.event_id == sent["tag"]["event_id"])
        )
        connection.execute(
            update(CorrelationKey).where(CorrelationKey.event_row_id == old).values(carrier="")
        )
    assert joined(client, order)[sent["tag"]["event_id"]] == {
        "via": "key", "key": "order_id", "carrier": None, "overruled": None,
    }  # fmt: skip


@contextmanager
def counting() -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    sa_event.listen(Engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa_event.remove(Engine, "before_cursor_execute", count)


def test_the_query_count_does_not_grow_with_the_events(
    client: TestClient, shop: Shop, database: Database
) -> None:
    small, large = str(uuid.uuid4()), str(uuid.uuid4())
    send_order(shop, small)
    send_order(shop, large, repeat=8)
    Correlator(database).run_until_idle()
    with counting() as few:
        assert len(joined(client, small)) == 6
    with counting() as many:
        assert len(joined(client, large)) == 4 + 8 * 3 - 1
    assert len(many) == len(few) <= 10, (few, many)  # the journey, its events, five for joins
