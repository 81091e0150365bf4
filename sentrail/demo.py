"""`sentrail demo`: sentrail and the ACME shop on the embedded defaults, with faults, across two
releases, until Ctrl-C.

Phases: release 1 runs healthy, then with bad cards; then release 2 is deployed (the shop
restarts with the new SHA) and it is a bad release: the catalog fails for some products,
payment crashes for a share of orders; last, shipping goes down and stays down (those orders
stall). Alerts go to a signed webhook receiver the demo starts (sentrail/alert_receiver.py) with
the default rules (`SENTRAIL_ALERT_WEBHOOK_URL` alone): the bad release and the stalled orders
fire them, the demo prints each as it arrives, and the dashboard's /alerts page lists them.
"""

import asyncio
import os
import secrets
import signal
import subprocess  # nosec B404  # starts sentrail and the shop, fixed argv, no shell
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from sentrail.alert_receiver import AlertReceiver, Received
from sentrail.readiness import ServerExited, wait_ready
from shop.faults import Faults
from shop.runner import Shop
from shop.settings import SERVICES, ShopSettings, git_revision
from shop.traffic import Scenario, TrafficResult, run_traffic
from store import migrations
from store.engine import Database
from store.projects import create_project, dsn, find_project

PROJECT_PREFIX = "acme-"  # each service reports to a project of its own: acme-frontend, …


def project_name(service: str) -> str:
    return f"{PROJECT_PREFIX}{service}"


@dataclass(frozen=True)
class Phase:
    release: int  # 1 or 2
    scenario: Scenario
    share: float  # of the orders
    faults: Faults | None = None  # instead of the scenario's own


PHASES = (
    Phase(1, Scenario.healthy, 0.3),
    Phase(1, Scenario.bad_cards, 0.2),
    Phase(
        2,
        Scenario.mixed,
        0.35,
        Faults(invalid_card_share=0.1, payment_crash_share=0.15, bad_release=True),
    ),
    # Last, and left on: the orders waiting for shipping stay stalled while the demo runs.
    Phase(2, Scenario.shipping_outage, 0.15, Faults(bad_release=True, shipping_down=True)),
)


def releases() -> tuple[str, str]:
    """The two releases: the checkout's parent commit and its head, as a deploy would name
    them; fixed names outside a git checkout."""
    head = git_revision("HEAD")
    if head is None:
        return "acme-1.0.0", "acme-1.1.0"
    return git_revision("HEAD~1") or f"{head}-previous", head


class Demo:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        shop_port: int,
        orders: int,
        data_dir: Path,
        say: Callable[[str], None],
    ) -> None:
        self.host, self.port, self.shop_port = host, port, shop_port
        self.orders = orders
        self.data_dir = data_dir
        self.say = say
        self.stop_event = threading.Event()
        self.server: subprocess.Popen[bytes] | None = None
        self.shop: Shop | None = None
        self.results: list[tuple[Phase, str, TrafficResult]] = []
        self.alerts = AlertReceiver(secret=secrets.token_hex(16), on_receive=self._alerted)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def prepare(self) -> dict[str, str]:
        """Migrates the database and returns each shop service's DSN: one project per service,
        as real teams set them up (made on the first run, found again on the next)."""
        database = Database()
        migrations.upgrade(database.settings.database_url)
        with database.write_sessions.begin() as session:
            found = {}
            for service in SERVICES:
                name = project_name(service)
                project = find_project(session=session, name=name) or create_project(
                    session=session, name=name
                )
                found[service] = dsn(project, self.url)
        database.dispose()
        return found

    def start_server(self) -> None:
        env = {**os.environ}
        env.setdefault("SENTRAIL_STALL_AFTER", "20")  # stalls show up within the demo
        if not env.get("SENTRAIL_ALERT_RULES") and not env.get("SENTRAIL_ALERT_WEBHOOK_URL"):
            # The simplest set-up: the default rules to one signed webhook, the demo's own.
            self.alerts.start()
            env["SENTRAIL_ALERT_WEBHOOK_URL"] = f"{self.alerts.url}/demo"
            env["SENTRAIL_ALERT_WEBHOOK_SECRET"] = self.alerts.secret or ""
            env.setdefault("SENTRAIL_ALERT_INTERVAL", "2")
        log = (self.data_dir / "sentrail.log").open("ab")
        self.server = subprocess.Popen(  # nosec B603  # fixed argv (this Python, -m sentrail)
            [
                sys.executable,
                "-m",
                "sentrail",
                "serve",
                "--host",
                self.host,
                "--port",
                str(self.port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the demo, which stops it last
        )
        try:
            wait_ready(self.url, self.server, timeout=60, interval=0.1, pause=self.stop_event.wait)
        except ServerExited:
            raise RuntimeError(f"sentrail exited; see {self.data_dir / 'sentrail.log'}") from None
        except TimeoutError:
            raise TimeoutError("sentrail did not become ready") from None

    def deploy(self, release: str, redis_url: str | None, dsns: dict[str, str]) -> Shop:
        """(Re)starts the shop's services on `release`, each sending to its own DSN; the
        embedded Redis outlives a deploy."""
        settings = ShopSettings(
            SENTRY_RELEASE=release,
            SENTRY_ENVIRONMENT="demo",
            SENTRAIL_REDIS_URL=redis_url,
            SHOP_DATA_DIR=self.data_dir / "shop",
            SHOP_HOST=self.host,
            SHOP_PORT=self.shop_port,
        ).with_dsns(dsns)
        shop = Shop(settings)
        if self.shop is not None:
            shop.redis, self.shop.redis = self.shop.redis, None
            self.shop.stop()
        shop.start()
        self.shop = shop
        return shop

    def run(self) -> None:
        dsns = self.prepare()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.start_server()
        self.say(f"sentrail dashboard: {self.url}  (read API: {self.url}/api/v1/orders)")
        first, second = releases()
        shop = self.deploy(first, None, dsns)
        self.say(f"ACME shop release {first[:12]} at {shop.url}")
        self.say(f"  one project per service: {', '.join(map(project_name, SERVICES))}")
        self.say(f"  each service logs its business steps: {self.url}/logs (live), and per order")
        if self.alerts.thread.is_alive():
            self.say(f"  alerts: {self.url}/alerts, sent to the demo's webhook {self.alerts.url}")
        current = 1
        for phase in PHASES:
            if self.stop_event.is_set():
                return
            if phase.release != current:
                redis_url = shop.settings.redis_url
                shop = self.deploy(second, redis_url, dsns)
                current = phase.release
                self.say(f"deployed release {second[:12]} (a bad one)")
            count = max(1, round(self.orders * phase.share))
            result = asyncio.run(self._traffic(shop.url, count, phase))
            self.results.append((phase, shop.settings.release, result))
            outcomes = ", ".join(f"{n} {k}" for k, n in sorted(result.outcomes.items()))
            self.say(f"  {phase.scenario.value:16} {len(result.placed):4} orders: {outcomes}")

    async def _traffic(self, url: str, orders: int, phase: Phase) -> TrafficResult:
        if phase.faults is not None:
            async with httpx.AsyncClient(base_url=url) as client:
                await client.put("/admin/faults", json=phase.faults.model_dump())
        task = asyncio.create_task(
            run_traffic(
                url,
                orders=orders,
                scenario=None if phase.faults else phase.scenario,
                concurrency=6,
                settle_seconds=15,
            )
        )
        while not task.done():
            if self.stop_event.is_set():
                task.cancel()
                break
            await asyncio.wait({task}, timeout=0.2)
        try:
            return await task
        except asyncio.CancelledError:
            return TrafficResult()

    def _alerted(self, received: Received) -> None:
        alert = received.body.get("alert", {})
        state = "FIRING" if alert.get("status") == "firing" else "RESOLVED"
        signed = "signature ok" if received.valid else "BAD SIGNATURE"
        self.say(f"  alert ({signed}): {state} {alert.get('rule')}: {alert.get('summary')}")
        self.say(f"    {alert.get('url')}")

    def stop(self) -> None:
        self.stop_event.set()
        if self.alerts.thread.is_alive():
            self.alerts.stop()
        if self.shop is not None:
            self.shop.stop()
        if self.server is not None and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(20)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
