"""The order page says how each event joined the journey (docs/decisions.md#12), and a hostile
link value stays text."""

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from correlator.worker import Correlator
from sentrail.settings import Role
from store.engine import Database
from store.models import CorrelationKey
from tests.conftest import ProjectKey
from tests.correlator.shop_events import Shop

HOSTILE = "\"><script>alert('tx')</script><img src=x onerror=alert(1)>"


@pytest.fixture
def app_roles() -> frozenset[Role]:
    """The test runs the correlator itself."""
    return frozenset({"collector", "dashboard"})


def test_the_order_page_shows_how_each_event_joined(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    shop, order, shared = Shop(client, project), str(uuid.uuid4()), uuid.uuid4().hex
    keyed = shop.message(
        "order", 0, shared, "placed", tags={"order_id": order, "transaction_id": HOSTILE}
    )
    crumb = shop.message("payment", 1, uuid.uuid4().hex, "checked", breadcrumbs={
        "values": [{"category": "x", "data": {"OrderID": order}}]})  # fmt: skip
    by_trace = shop.message("shipping", 2, shared, "label printed")
    by_key = shop.message(
        "payment", 3, uuid.uuid4().hex, "settled", tags={"transaction_id": HOSTILE}
    )
    shop.send(keyed, crumb, by_trace, by_key)
    Correlator(database).run_until_idle()

    page = client.get(f"/orders/{order}")
    assert page.status_code == 200
    text = page.text
    assert "joined by tag order_id" in text
    assert "joined by breadcrumb OrderID (no key of its own)" in text
    through = (
        f'via <a href="#event-{keyed["event_id"]}">event <code>{keyed["event_id"][:8]}…</code>'
    )
    assert (
        f'joined by trace <a href="/traces/{shared}"><code title="{shared}">{shared[:8]}…' in text
    )
    assert text.count(through) == 2  # the trace and the transaction_id both went through it
    assert "joined by transaction_id <code title=" in text
    assert "<script>alert(" not in text and "onerror=alert(1)>" not in text
    assert "&lt;script&gt;alert(" in text
    assert client.get(f"/traces/{shared}").status_code == 200  # the shared list without joins

    with database.engine.begin() as connection:  # keys stored before migration 0006
        connection.execute(update(CorrelationKey).values(carrier=""))
    older = client.get(f"/orders/{order}").text
    assert older.count("joined by order_id, stored before carriers were recorded") == 2
