"""`sentrail traffic`: customers who browse, fill carts and check out, under a fault scenario.

Each customer is a registered user of its own (so carts never mix); the customers check out
concurrently until `orders` orders are placed. Afterwards every order is followed until it
settles, and its outcome is taken from the shop's own record: that is the ground truth the
correlator is checked against (`--truth`).
"""

import asyncio
import enum
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import orjson

from shop.faults import Faults


class Scenario(enum.StrEnum):
    healthy = "healthy"
    bad_cards = "bad-cards"
    shipping_outage = "shipping-outage"
    bad_release = "bad-release"
    mixed = "mixed"


SCENARIOS: dict[str, Faults] = {
    Scenario.healthy: Faults(),
    Scenario.bad_cards: Faults(invalid_card_share=0.3),
    Scenario.shipping_outage: Faults(shipping_down=True),
    Scenario.bad_release: Faults(bad_release=True),
    Scenario.mixed: Faults(invalid_card_share=0.15, payment_crash_share=0.1, bad_release=True),
}
CARDS = (("Visa", "4111111111111111", "123"), ("Visa", "4222222222222", "456"))
SETTLED = {"delivered", "payment failed", "failed"}


@dataclass(frozen=True)
class Truth:
    order_id: str
    outcome: str  # completed | failed | stalled
    failed_service: str | None
    release: str


@dataclass
class TrafficResult:
    placed: list[str] = field(default_factory=list)
    truth: list[Truth] = field(default_factory=list)
    abandoned: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def outcomes(self) -> Counter[str]:
        return Counter(t.outcome for t in self.truth)


def outcome_of(order: dict[str, Any], faults: Faults) -> Truth:
    """What happened to an order, from the order service's record."""
    status = order["status"]
    if status in ("delivered", "shipped - pending delivery"):
        outcome, failed = "completed", None
    elif status in ("payment failed", "failed"):
        outcome, failed = "failed", order.get("failed_service")
    elif status == "paid":
        outcome, failed = "stalled", "shipping"
    else:  # still "Pending Payment": payment never answered
        outcome, failed = "stalled", "payment"
    return Truth(order["order_id"], outcome, failed, order["release"])


class Customer:
    def __init__(self, client: httpx.AsyncClient, rng: random.Random) -> None:
        self.client = client
        self.rng = rng
        self.userid = ""
        self.token = ""  # nosec B105  # an empty JWT slot filled at sign-in, not a password

    async def sign_up(self) -> None:
        name = f"customer-{uuid.uuid4().hex[:12]}"
        password = uuid.uuid4().hex
        registered = await self.client.post(
            "/register",
            json={
                "username": name,
                "password": password,
                "firstname": "Casey",
                "lastname": "Customer",
                "email": f"{name}@example.com",
            },
        )
        registered.raise_for_status()
        login = await self.client.post("/login", json={"username": name, "password": password})
        login.raise_for_status()
        self.userid, self.token = login.json()["userid"], login.json()["access_token"]

    async def shop_once(self, products: list[dict[str, Any]]) -> tuple[str | None, str]:
        """Browse, fill the cart, check out. Returns (order_id or None, what happened)."""
        picked = self.rng.sample(products, k=self.rng.randint(1, 3))
        cart = []
        for product in picked:
            # The details page may fail (the bad release); the customer adds the product
            # from the list anyway, and the order finds out at checkout.
            await self.client.get(f"/products/{product['id']}")
            line = {
                "itemid": product["id"],
                "name": product["name"],
                "description": product["shortDescription"],
                "quantity": self.rng.randint(1, 2),
                "price": product["price"],
            }
            added = await self.client.post(f"/cart/item/add/{self.userid}", json=line)
            if added.status_code != 200:
                return None, f"cart {added.status_code}"
            cart.append(line)
        kind, number, cvv = self.rng.choice(CARDS)
        order = {
            "firstname": "Casey",
            "lastname": "Customer",
            "email": "casey@example.com",
            "delivery": "UPS",
            "address": {
                "street": "1 Main St",
                "city": "Springfield",
                "zip": "12345",
                "state": "CA",
                "country": "USA",
            },
            "card": {
                "type": kind,
                "number": number,
                "expMonth": 12,
                "expYear": date.today().year + 2,
                "ccv": cvv,
            },
            "cart": cart,
            "total": round(sum(i["quantity"] * i["price"] for i in cart), 2),
        }
        placed = await self.client.post(
            f"/order/add/{self.userid}",
            json=order,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        order_id = placed.json().get("order_id") if placed.content else None
        cleared = await self.client.post(f"/cart/clear/{self.userid}")
        if cleared.status_code != 200:
            return order_id, f"cart {cleared.status_code}"
        return order_id, f"order {placed.status_code}"


async def set_scenario(client: httpx.AsyncClient, scenario: str) -> Faults:
    faults = SCENARIOS[scenario]
    (await client.put("/admin/faults", json=faults.model_dump())).raise_for_status()
    return faults


async def run_traffic(
    shop_url: str,
    *,
    orders: int,
    scenario: str | None = "healthy",
    concurrency: int = 8,
    settle_seconds: float = 20.0,
    seed: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> TrafficResult:
    """Places `orders` orders, then follows them until they settle (or `settle_seconds`)."""
    rng = random.Random(seed)  # nosec B311  # simulated shoppers, repeatable by seed
    result = TrafficResult()
    started = time.perf_counter()
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=shop_url, timeout=30, limits=limits) as client:
        faults = (
            await set_scenario(client, scenario)
            if scenario
            else Faults.model_validate((await client.get("/admin/faults")).json())
        )
        products = (await client.get("/products")).json()["data"]
        customers = [
            Customer(client, random.Random(rng.random()))  # nosec B311  # simulated shoppers
            for _ in range(concurrency)
        ]
        await asyncio.gather(*(c.sign_up() for c in customers))
        owner: dict[str, Customer] = {}
        remaining = orders
        attempts = orders * 5  # bounded even when every checkout is refused

        async def work(customer: Customer) -> None:
            nonlocal remaining, attempts
            while remaining > 0 and attempts > 0:
                remaining -= 1  # taken before the checkout, so that no more are placed
                attempts -= 1
                order_id, what = await customer.shop_once(products)
                if order_id:
                    owner[order_id] = customer
                    result.placed.append(order_id)
                    if on_progress:
                        on_progress(1)
                else:
                    remaining += 1
                    result.abandoned += 1
                    result.errors[what] += 1

        await asyncio.gather(*(work(c) for c in customers))
        result.truth = await settle(client, owner, faults, settle_seconds)
    result.seconds = time.perf_counter() - started
    return result


async def settle(
    client: httpx.AsyncClient, owner: dict[str, Customer], faults: Faults, seconds: float
) -> list[Truth]:
    """Waits until every order reached an end, or `seconds`; then reads the outcomes."""
    deadline = time.monotonic() + seconds
    users = {c.userid for c in owner.values()}
    latest: dict[str, dict[str, Any]] = {}
    while True:
        for userid in users:
            for order in (await client.get(f"/order/{userid}")).json()["data"]:
                latest[order["order_id"]] = order
        waiting = [
            o
            for o in owner
            if o not in latest
            or (
                latest[o]["status"] not in SETTLED
                and not (latest[o]["status"] == "paid" and faults.shipping_down)
            )
        ]
        if not waiting or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    return [outcome_of(latest[o], faults) for o in owner if o in latest]


def write_truth(path: Path, truth: list[Truth]) -> None:
    with path.open("wb") as file:
        for line in truth:
            file.write(orjson.dumps(asdict(line)) + b"\n")


def read_truth(path: Path) -> list[Truth]:
    return [Truth(**orjson.loads(line)) for line in path.read_bytes().splitlines() if line]
