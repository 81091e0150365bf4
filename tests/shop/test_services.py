"""Each service's factory composes its routers around its context (no other service running)."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shop.serve import FACTORIES
from shop.settings import ShopSettings

ALIVE = {
    "frontend": "frontend is alive",
    "users": "users service is alive",
    "catalog": "catalog service is alive",
    "cart": "cart service is alive",
    "order": "order service is alive",
    "payment": "payment service is alive",
    "shipping": "shipping service is alive",
}


@pytest.mark.parametrize("service", sorted(FACTORIES))
def test_a_service_answers_its_liveness(service: str, redis_url: str, tmp_path: Path) -> None:
    settings = ShopSettings(
        SENTRAIL_REDIS_URL=redis_url,
        SHOP_DATA_DIR=tmp_path,
        SHOP_JWT_SECRET="test-secret-of-thirty-two-bytes!",
        SENTRY_RELEASE="r1",
    )
    # Without `with`, the lifespan does not run: no consumers, no clients to other services.
    answer = TestClient(FACTORIES[service](settings)).get("/liveness").json()
    assert answer["message"] == ALIVE[service] and answer["status"] == 200
    assert answer.get("release") == ("r1" if service == "frontend" else None)


def test_a_route_reaches_its_service_context(redis_url: str, tmp_path: Path) -> None:
    settings = ShopSettings(SENTRAIL_REDIS_URL=redis_url, SHOP_DATA_DIR=tmp_path)
    products = TestClient(FACTORIES["catalog"](settings)).get("/products").json()["data"]
    assert len(products) == 8 and products[0]["imageUrl1"].startswith("/static/images/")
