"""The cart service on the real Redis (its routes, and the Redis faults)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from redis import Redis

from shop.faults import Faults, write_faults
from shop.services import cart
from shop.settings import ShopSettings


@pytest.fixture
def client(redis_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = ShopSettings(SENTRAIL_REDIS_URL=redis_url, SHOP_DATA_DIR=tmp_path)
    with TestClient(cart.create_app(settings)) as test_client:
        yield test_client


def item(itemid: str, quantity: int, price: float) -> dict[str, object]:
    return {"itemid": itemid, "name": itemid, "quantity": quantity, "price": price}


def test_cart_adds_modifies_totals_and_clears(client: TestClient) -> None:
    assert client.get("/cart/items/u1").json() == {"userid": "u1", "cart": []}  # no cart yet
    client.post("/cart/item/add/u1", json=item("mat", 1, 62.5))
    client.post("/cart/item/add/u1", json=item("mat", 2, 62.5))
    client.post("/cart/item/add/u1", json=item("bottle", 1, 34.99))
    assert client.get("/cart/items/total/u1").json()["cartitemtotal"] == 4
    assert client.get("/cart/total/u1").json()["carttotal"] == round(3 * 62.5 + 34.99, 2)
    client.post("/cart/item/modify/u1", json={"itemid": "bottle", "quantity": 0})
    assert [i["itemid"] for i in client.get("/cart/items/u1").json()["cart"]] == ["mat"]
    client.post("/cart/modify/u1", json={"cart": [item("bike", 1, 499.99)]})
    client.post("/cart/item/add/u2", json=item("mat", 1, 62.5))
    carts = {c["userid"]: c["cart"] for c in client.get("/cart/all").json()["data"]}
    assert set(carts) == {"u1", "u2"} and carts["u1"][0]["itemid"] == "bike"
    client.post("/cart/clear/u1")
    assert client.get("/cart/items/u1").json()["cart"] == []


def test_cart_redis_down_is_a_server_error(client: TestClient, redis_url: str) -> None:
    write_faults(Redis.from_url(redis_url), Faults(cart_redis="down"))
    failing = TestClient(client.app, raise_server_exceptions=False)
    assert failing.get("/cart/items/u1").status_code == 500
