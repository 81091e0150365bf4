"""Alerts end to end: the ACME shop sends to a real `sentrail serve` whose alert rules notify
real receivers started here (an HTTP receiver that checks each webhook's signature, a
Slack-compatible one, an SMTP server). A shipping outage fires the stall alert within the stall
time + 10 s, once, and resolves once shipping is back; a bad release fires the release alert
and fails the gate while the healthy one passes."""

import asyncio
import email
import email.policy
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from bench.server import ROOT, Server, running_server
from sentrail.alert_receiver import AlertReceiver, Received
from shop.faults import Faults
from shop.runner import Shop, free_port
from shop.settings import SERVICES, ShopSettings
from shop.traffic import Scenario, Truth, run_traffic
from store.engine import Database
from store.settings import DatabaseSettings
from tests.conftest import ProjectKey, make_project
from tests.e2e.test_shop_journeys import free_port_block
from tests.services import fresh_redis_url

STALL_AFTER = 4
SECRET = "e2e-alert-secret"
RULES = """
[[targets]]
name = "hook"
kind = "webhook"
url = "{hook}/hook"
secret = "{secret}"

[[targets]]
name = "chat"
kind = "slack"
url = "{hook}/slack"

[[targets]]
name = "mail"
kind = "email"
host = "127.0.0.1"
port = {smtp}
to = ["oncall@acme.test"]

[[rules]]
name = "shipping-stalls"
condition = "orders_stalled"
window = 600
threshold = 1
service = "shipping"

[[rules]]
name = "release-regression"
condition = "release_regression"
window = 3600
min_orders = 5
targets = ["hook"]
"""


class Inbox:
    """aiosmtpd's handler: keeps every message it is sent."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def projects(database_url: str) -> dict[str, ProjectKey]:
    database = Database(DatabaseSettings(database_url=database_url))
    made = {service: make_project(database, f"acme-{service}") for service in SERVICES}
    database.dispose()
    return made


@pytest.fixture
def receivers() -> Iterator[tuple[AlertReceiver, Inbox, int]]:
    hook = AlertReceiver(secret=SECRET).start()
    inbox = Inbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    yield hook, inbox, smtp_port
    controller.stop()
    hook.stop()


@pytest.fixture
def server(
    database_url: str, tmp_path: Path, receivers: tuple[AlertReceiver, Inbox, int]
) -> Iterator[Server]:
    hook, _, smtp_port = receivers
    rules = tmp_path / "alerts.toml"
    rules.write_text(RULES.format(hook=hook.url, secret=SECRET, smtp=smtp_port))
    env = {
        "SENTRAIL_STALL_AFTER": str(STALL_AFTER),
        "SENTRAIL_ALERT_RULES": str(rules),
        "SENTRAIL_ALERT_INTERVAL": "0.5",
        "SENTRAIL_ALERT_RETRY_BACKOFF": "0.5",
    }
    with running_server(database_url, tmp_path / "server.log", extra_env=env) as running:
        yield running


def shop_settings(tmp_path: Path, release: str, dsns: dict[str, str]) -> ShopSettings:
    return ShopSettings(
        SENTRY_RELEASE=release,
        SENTRY_ENVIRONMENT="e2e",
        SENTRAIL_REDIS_URL=fresh_redis_url(),
        SHOP_DATA_DIR=tmp_path / release,
        SHOP_PORT=free_port_block(),
        SHOP_CLAIM_IDLE_MS=300,
        SHOP_MAX_DELIVERIES=2,
    ).with_dsns(dsns)


@contextmanager
def shop_on(tmp_path: Path, release: str, dsns: dict[str, str]) -> Iterator[Shop]:
    """The shop on `release`, started again on other ports when one of its seven was taken
    between the check and the bind (other processes on a busy machine: "address already in
    use", the service exits)."""
    for attempt in range(3):
        shop = Shop(shop_settings(tmp_path, release, dsns))
        try:
            shop.start()
            break
        except RuntimeError:
            if attempt == 2:
                raise
    try:
        yield shop
    finally:
        shop.stop()


def wait_for(what: Callable[[], Any], timeout: float, message: str | Callable[[], str]) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = what()
        if found:
            return found
        assert time.monotonic() < deadline, message() if callable(message) else message
        time.sleep(0.1)  # polling a condition until its deadline


def notices(hook: AlertReceiver, path: str, kind: str, rule: str) -> list[Received]:
    return [
        r
        for r in hook.notices(path)
        if (r.body.get("type", "") == kind and r.body.get("alert", {}).get("rule") == rule)
        or (path == "/slack" and kind in r.body.get("text", "") and rule in r.body["text"])
    ]


def shown_value(server: Server, rule: str) -> float:
    """The firing alert's measure as the API shows it now (0 when none fires)."""
    alerts = httpx.get(f"{server.url}/api/v1/alerts", params={"rule": rule, "status": "firing"})
    return float(sum(a["value"] for a in alerts.json()["alerts"]))


def stalled_since(server: Server) -> float:
    """When the first order that stalled was last seen (Unix time)."""
    orders = httpx.get(f"{server.url}/api/v1/orders", params={"status": "stalled"}).json()
    seen = [datetime.fromisoformat(o["last_seen"]).timestamp() for o in orders["orders"]]
    assert seen, orders
    return min(seen)


def test_a_shipping_outage_fires_the_stall_alert_once_and_resolves_it(
    server: Server,
    receivers: tuple[AlertReceiver, Inbox, int],
    projects: dict[str, ProjectKey],
    tmp_path: Path,
) -> None:
    hook, inbox, _ = receivers
    dsns = {service: server.dsn(p.id, p.key) for service, p in projects.items()}
    with shop_on(tmp_path, "e2e-1", dsns) as shop:
        outage = asyncio.run(
            run_traffic(shop.url, orders=6, scenario=Scenario.shipping_outage, concurrency=3)
        )
        assert {t.outcome for t in outage.truth} == {"stalled"}, outage.truth
        (fired,) = wait_for(
            lambda: notices(hook, "/hook", "alert.fired", "shipping-stalls"),
            STALL_AFTER + 30,
            f"no stall alert: {hook.received}",
        )
        delay = fired.at - stalled_since(server)
        print(f"stall alert {delay:.1f} s after the order's last event")  # the figure, with -s
        assert delay <= STALL_AFTER + 10, f"the stall alert came {delay:.1f} s after the order"
        assert fired.valid
        alert = fired.body["alert"]
        assert alert["group_key"] == "flow=checkout service=shipping"
        assert alert["url"].startswith(f"{server.url}/orders?status=stalled")
        # Once: the alert goes on counting the orders as they stall (an evaluation after the
        # last one stalled), and fires nothing again, then or until it resolves (below).
        stalled = len(outage.truth)
        wait_for(
            lambda: shown_value(server, "shipping-stalls") == stalled,
            STALL_AFTER + 30,
            lambda: f"the alert shows {shown_value(server, 'shipping-stalls')} of {stalled}",
        )
        assert len(notices(hook, "/hook", "alert.fired", "shipping-stalls")) == 1
        # Shipping is back: what waited ships, the orders complete, the alert resolves.
        httpx.put(f"{shop.url}/admin/faults", json=Faults().model_dump()).raise_for_status()
        (resolved,) = wait_for(
            lambda: notices(hook, "/hook", "alert.resolved", "shipping-stalls"),
            45,
            f"no resolve notice: {[r.body.get('type') for r in hook.received]}",
        )
    assert resolved.valid and resolved.body["alert"]["id"] == alert["id"]
    assert len(notices(hook, "/hook", "alert.fired", "shipping-stalls")) == 1  # still once
    assert resolved.body["delivery_id"] != fired.body["delivery_id"]
    # The same two notices by Slack-compatible webhook and by email.
    wait_for(lambda: len(hook.notices("/slack")) >= 2, 15, "slack notices missing")
    texts = [r.body["text"] for r in hook.notices("/slack")]
    assert "FIRING" in texts[0] and "RESOLVED" in texts[1] and alert["url"] in texts[0]
    wait_for(lambda: len(inbox.messages) >= 2, 15, "emails missing")
    subjects = [str(m["Subject"]) for m in inbox.messages]
    assert subjects[0].startswith("[sentrail] FIRING shipping-stalls"), subjects
    assert subjects[1].startswith("[sentrail] RESOLVED shipping-stalls"), subjects
    assert alert["url"] in inbox.messages[0].get_content()  # type: ignore[attr-defined]
    page = httpx.get(f"{server.url}/alerts").text
    assert "shipping-stalls" in page and "status-resolved" in page
    listed = httpx.get(f"{server.url}/api/v1/alerts", params={"rule": "shipping-stalls"}).json()
    (shown,) = listed["alerts"]
    assert shown["status"] == "resolved" and shown["resolved_at"]
    assert sorted((d["notice"], d["target"], d["status"]) for d in shown["deliveries"]) == [
        (notice, target, "delivered")
        for notice in ("fired", "resolved")
        for target in ("chat", "hook", "mail")
    ]


def gate(server: Server, version: str, baseline: str | None, database_url: str) -> int:
    command = [sys.executable, "-m", "sentrail", "release", "gate", version, "--min-orders", "5"]
    if baseline:
        command += ["--baseline", baseline]
    env = {"SENTRAIL_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=60).returncode


def test_a_bad_release_fires_the_release_alert_and_fails_the_gate(
    server: Server,
    receivers: tuple[AlertReceiver, Inbox, int],
    projects: dict[str, ProjectKey],
    database_url: str,
    tmp_path: Path,
) -> None:
    hook, _, _ = receivers
    dsns = {service: server.dsn(p.id, p.key) for service, p in projects.items()}
    releases = {"e2e-good": Faults(), "e2e-bad": Faults(payment_crash_share=1.0)}

    good_started = threading.Event()

    def deploy(release: str) -> list[Truth]:
        if release == "e2e-bad":
            # Deployed after the good one (the gate's baseline is the release first seen
            # before it, and a shop's services send transactions as soon as they start).
            assert good_started.wait(60), "the good release never started"
        with shop_on(tmp_path, release, dsns) as shop:
            good_started.set()
            faults = releases[release].model_dump()
            httpx.put(f"{shop.url}/admin/faults", json=faults).raise_for_status()
            traffic = run_traffic(
                shop.url, orders=6, scenario=None, concurrency=3, settle_seconds=40
            )
            result = asyncio.run(traffic)
            return result.truth

    # The bad shop starts while the good one takes its orders: the wall time of one start.
    with ThreadPoolExecutor(2) as pool:
        truths = dict(zip(releases, pool.map(deploy, releases), strict=True))
    # On a busy machine an order of the good release may still be on its way when the traffic
    # stops following it; none fails.
    good = [t.outcome for t in truths["e2e-good"]]
    assert "failed" not in good and good.count("completed") >= 5, truths
    # Every payment crashes: no order of the bad release completes (one still retrying when the
    # traffic stops settling counts as stalled for now).
    bad = [t.outcome for t in truths["e2e-bad"]]
    assert "failed" in bad and "completed" not in bad, truths
    verdict = f"{server.url}/api/v1/releases/e2e-bad/gate?min_orders=5"
    (fired,) = wait_for(
        lambda: notices(hook, "/hook", "alert.fired", "release-regression"),
        30,
        lambda: f"no release alert; the gate says {httpx.get(verdict).text}",
    )
    alert = fired.body["alert"]
    assert fired.valid and alert["group_key"] == "release=e2e-bad"
    assert alert["url"] == f"{server.url}/releases/e2e-bad"
    assert "order_success_rate" in alert["summary"], alert["summary"]
    assert gate(server, "e2e-bad", None, database_url) == 1
    assert gate(server, "e2e-good", "e2e-bad", database_url) == 0
