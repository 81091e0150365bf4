"""The dashboard in real Chromium (Debian's, driven by Playwright): every page loads clean,
the journey shows its failing and missing hop, filters and search work, hostile event text
stays text, and the token wall holds."""

import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.browser import CHROMIUM, CHROMIUM_ARGS
from bench.server import Server, running_server
from store.engine import Database
from store.settings import DatabaseSettings
from tests.collector.telemetry_payloads import envelope, item
from tests.conftest import make_project
from tests.correlator.shop_events import BASE, Shop
from tests.dashboard.test_waterfall import span
from tests.services import IN_CI

playwright = pytest.importorskip("playwright.sync_api")

TOKEN = "a-dashboard-token-for-tests"
XSS_IMG = "<img src=x onerror=\"window.__xss='img'\">"
XSS_SCRIPT = "<script>window.__xss='script'</script>"
SPANS = ("a1a1a1a1a1a1a1a1", "b2b2b2b2b2b2b2b2", "c3c3c3c3c3c3c3c3")  # root, child, grandchild


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        reason = "Debian's chromium is not installed (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shop_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    """A server (SQLite) with a completed, a failed, a stalled and a hostile order."""
    from tests.services import SqliteDatabases

    root = tmp_path_factory.mktemp("browser")
    databases = SqliteDatabases(root)
    databases.setup()
    url = databases.fresh()
    database = Database(DatabaseSettings(database_url=url))
    project = make_project(database, "acme")
    database.dispose()
    env = {"SENTRAIL_STALL_AFTER": "60"}
    with running_server(url, root / "server.log", extra_env=env) as server:
        orders = {name: str(uuid.uuid4()) for name in ("completed", "failed", "stalled", "xss")}
        shop = Shop(httpx.Client(base_url=server.url), project)
        shop.checkout(orders["completed"], uuid.uuid4().hex, upto="shipping", t0=0)
        failed_trace = uuid.uuid4().hex
        shop.checkout(orders["failed"], failed_trace, upto="payment-error", t0=10)
        # A span tree on the failed order's trace, for its waterfall.
        common = {"trace_id": failed_trace, "t0": BASE.timestamp() + 10}
        spans = [
            span(SPANS[0], None, 0, 900, name="POST /checkout", **common),
            span(SPANS[1], SPANS[0], 100, 700, name="charge card", **common),
            span(SPANS[2], SPANS[1], 150, 400, name="validate card", **common),
        ]
        sent = shop.client.post(
            f"/api/{project.id}/envelope/", content=envelope(item("span", spans)),
            headers=project.auth,
        )  # fmt: skip
        assert sent.status_code == 200, sent.text
        shop.checkout(orders["stalled"], uuid.uuid4().hex, upto="shipment-requested", t0=20)
        shop.send(
            shop.message(
                "payment", 30, uuid.uuid4().hex, f"{XSS_IMG} {XSS_SCRIPT}", level="error",
                tags={"order_id": orders["xss"], "note": XSS_IMG},
                breadcrumbs={"values": [
                    {"category": "x", "message": XSS_SCRIPT, "data": {"h": XSS_IMG}}
                ]},
                exception={"values": [{"type": "ValueError", "value": XSS_IMG}]},
            )
        )  # fmt: skip
        for order in orders.values():
            wait_for_order(server, order)
        yield server, orders


def wait_for_order(server: Server, order: str) -> None:
    deadline = datetime.now(UTC) + timedelta(seconds=20)
    while httpx.get(f"{server.url}/api/v1/orders/{order}").status_code != 200:
        assert datetime.now(UTC) < deadline, f"order {order} never correlated"
        time.sleep(0.05)  # polling until the correlator caught up, bounded


class PageWatch:
    """Console errors and failed requests of one page (the live channel's abort on leaving
    a page is not a failure)."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(m.text))
        page.on("pageerror", lambda e: self.problems.append(str(e)))
        page.on(
            "requestfailed",
            lambda r: "/live" not in r.url and self.problems.append(f"failed: {r.url}"),
        )
        page.on(
            "response",
            lambda r: r.status >= 400 and self.problems.append(f"{r.status}: {r.url}"),
        )


@pytest.fixture
def page(chromium: Any) -> Iterator[tuple[Any, PageWatch]]:
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page, PageWatch(page)
    context.close()


def test_every_page_loads_without_console_errors_or_failed_requests(
    shop_data: tuple[Server, dict[str, str]], page: tuple[Any, PageWatch]
) -> None:
    server, orders = shop_data
    browser_page, watch = page
    release = httpx.get(f"{server.url}/api/v1/releases").json()["releases"][0]["version"]
    trace = httpx.get(f"{server.url}/api/v1/orders/{orders['failed']}").json()["trace_ids"][0]
    issue = httpx.get(f"{server.url}/api/v1/issues").json()["issues"][0]["id"]
    for path in ["/", "/orders", f"/orders/{orders['failed']}", f"/traces/{trace}",
                 "/services", "/releases", f"/releases/{release}", f"/issues/{issue}",
                 "/logs"]:  # fmt: skip
        response = browser_page.goto(server.url + path)
        assert response.status == 200, path
        assert browser_page.locator("main h1").count() >= 1, path
    assert watch.problems == []


def test_journey_shows_the_failing_and_the_missing_hop(
    shop_data: tuple[Server, dict[str, str]], page: tuple[Any, PageWatch]
) -> None:
    server, orders = shop_data
    browser_page, _ = page
    browser_page.goto(f"{server.url}/orders/{orders['failed']}")
    failed = browser_page.locator(".hop-failed")
    assert failed.count() == 1 and "payment" in failed.inner_text()
    assert "Failed at payment" in browser_page.locator(".summary").inner_text()
    assert browser_page.locator(".lane-failed .lane-label").text_content() == "payment"

    # The stalled order: shipping never picked it up (stall after 60 s; events are older).
    browser_page.goto(f"{server.url}/orders/{orders['stalled']}")
    missing = browser_page.locator(".hop-missing")
    assert missing.count() == 1 and "shipping" in missing.inner_text()
    assert browser_page.locator("svg .missing-hop").count() == 1


def test_the_trace_waterfall_renders_to_scale_and_a_subtree_collapses(
    shop_data: tuple[Server, dict[str, str]], page: tuple[Any, PageWatch]
) -> None:
    server, orders = shop_data
    browser_page, watch = page
    trace = httpx.get(f"{server.url}/api/v1/orders/{orders['failed']}").json()["trace_ids"][0]
    browser_page.goto(f"{server.url}/traces/{trace}")
    root, child, grandchild = (browser_page.locator(f"#span-{s}") for s in SPANS)
    assert root.is_visible() and child.is_visible() and grandchild.is_visible()
    assert "charge card" in child.inner_text() and "POST /checkout" in root.inner_text()
    # the child's bar: 600 of the root's 900 ms, starting 100 ms after it
    whole = root.locator("rect.bar").bounding_box()
    bar = child.locator("rect.bar").bounding_box()
    assert whole["width"] > 20
    assert abs(bar["width"] / whole["width"] - 600 / 900) < 0.02
    assert abs((bar["x"] - whole["x"]) / whole["width"] - 100 / 900) < 0.02
    child.click()  # its summary: the subtree under "charge card" closes
    assert not grandchild.is_visible() and child.is_visible()
    root.click()  # the whole tree closes
    assert not child.is_visible()
    root.click()
    assert child.is_visible() and not grandchild.is_visible()  # each keeps its own state
    assert watch.problems == []


def test_filters_and_search(
    shop_data: tuple[Server, dict[str, str]], page: tuple[Any, PageWatch]
) -> None:
    server, orders = shop_data
    browser_page, watch = page
    browser_page.goto(f"{server.url}/orders")
    browser_page.select_option("select[name=status]", "stalled")
    browser_page.click("form.filters button[type=submit]")
    browser_page.wait_for_url("**/orders?*status=stalled*")
    rows = browser_page.locator("table.orders tbody tr")
    assert rows.count() == 1 and orders["stalled"] in rows.inner_text()
    browser_page.fill("header input[name=q]", orders["completed"])
    browser_page.press("header input[name=q]", "Enter")
    browser_page.wait_for_url(f"**/orders/{orders['completed']}")
    assert "completed" in browser_page.locator("h1").inner_text()
    assert watch.problems == []


def test_hostile_event_text_is_shown_as_text_and_never_runs(
    shop_data: tuple[Server, dict[str, str]], page: tuple[Any, PageWatch]
) -> None:
    server, orders = shop_data
    browser_page, _ = page
    response = browser_page.goto(f"{server.url}/orders/{orders['xss']}")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    browser_page.locator("details summary").first.click()
    assert browser_page.evaluate("window.__xss") is None
    text = browser_page.locator("main").inner_text()
    assert XSS_IMG in text and XSS_SCRIPT in text
    assert browser_page.locator("main img").count() == 0
    assert browser_page.locator("main script").count() == 0


def test_the_token_wall(tmp_path: Path, chromium: Any) -> None:
    from tests.services import SqliteDatabases

    databases = SqliteDatabases(tmp_path)
    databases.setup()
    env = {"SENTRAIL_DASHBOARD_TOKEN": TOKEN}
    with running_server(databases.fresh(), tmp_path / "s.log", extra_env=env) as server:
        api = httpx.get(f"{server.url}/api/v1/orders")
        assert api.status_code == 401
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.get(f"{server.url}/api/v1/orders", headers=bearer).status_code == 200
        context = chromium.new_context()
        page = context.new_page()
        page.goto(f"{server.url}/releases")
        assert page.url.startswith(f"{server.url}/login")
        page.fill("input[name=token]", "not the token at all")
        page.click("button[type=submit]")
        assert "not right" in page.locator("[role=alert]").inner_text()
        page.fill("input[name=token]", TOKEN)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/releases")
        assert page.locator("h1").inner_text() == "Releases"
        cookie = next(c for c in context.cookies() if c["name"] == "sentrail_session")
        assert (
            cookie["httpOnly"] and cookie["sameSite"] == "Strict" and TOKEN not in cookie["value"]
        )
        context.close()


def test_the_api_docs_run_under_the_content_security_policy(
    shop_data: tuple[Server, dict[str, str]], page: tuple[Any, PageWatch]
) -> None:
    server, _ = shop_data
    browser_page, watch = page
    outside: list[str] = []
    browser_page.on("request", lambda r: not r.url.startswith(server.url) and outside.append(r.url))
    response = browser_page.goto(f"{server.url}/docs")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    try:
        browser_page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
    except Exception:
        raise AssertionError(watch.problems) from None
    assert "sentrail" in browser_page.locator(".swagger-ui .info .title").inner_text()
    assert browser_page.locator(".opblock").count() > 10  # every operation listed
    assert watch.problems == [] and outside == []
