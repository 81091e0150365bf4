"""The real JavaScript SDKs against a real `sentrail serve`: @sentry/node in a subprocess and
@sentry/browser in Debian's Chromium (Playwright), as tests/js/package-lock.json pins them
(`make test` installs them with `npm ci --prefix tests/js`).

SDK 11 streams spans as span v2 items (no `transaction`), sends logs as `log` items and, in the
browser, one session per page load. What they send must come back: spans in the trace, logs in
the log list and the order, the JS service as a hop of the order's journey, and the browser's
sessions counted exactly as Relay counts the updates it sent.

Without Node/npm (or the installed packages, or Chromium) these tests skip with the reason;
with CI=true they fail instead.
"""

import functools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import pytest

from bench.browser import CHROMIUM, CHROMIUM_ARGS
from bench.server import ROOT, Server, running_server
from tests.conftest import ProjectKey
from tests.services import IN_CI

JS = ROOT / "tests/js"
T = TypeVar("T")


NODE_MIN = (20, 19)  # @sentry/node and @sentry/browser 11: engines ">=20.19.0 <22 || >=22.12"


@functools.cache
def js_unavailable() -> str | None:
    """Why the JS SDKs cannot run, or None when they can."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        return "Node/npm not installed"
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    found = tuple(int(part) for part in version.stdout.strip().lstrip("v").split(".")[:2])
    if found < NODE_MIN:
        return f"Node {version.stdout.strip()} is older than the JS SDK 11 needs (20.19)"
    for package in ("@sentry/node", "@sentry/browser", "esbuild"):
        if not (JS / "node_modules" / package / "package.json").exists():
            return f"{package} is not installed in tests/js (`make test` runs npm ci there)"
    return None


def require(reason: str | None) -> None:
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    require(js_unavailable())
    with running_server(database_url, tmp_path / "server.log") as running:
        yield running


def run_json(command: list[str]) -> dict[str, Any]:
    """Runs a client; its last line of output is the JSON of what it sent."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    sent: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return sent


def poll(
    fetch: Callable[[], T | None],
    what: str,
    timeout: float = 30,
    pause: Callable[[float], object] = time.sleep,
) -> T:
    """`fetch()` once it is not None; fails after `timeout` seconds. `pause` waits between
    tries (a page's `wait_for_timeout` keeps Playwright's route handlers running meanwhile)."""
    deadline = time.monotonic() + timeout
    while (found := fetch()) is None:
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        pause(0.2)
    return found


def api_when(
    api: httpx.Client,
    path: str,
    ready: Callable[[Any], bool],
    pause: Callable[[float], object] = time.sleep,
    **params: str,
) -> Any:
    """The JSON at `path` once `ready` says so (within 30 s)."""
    last: list[Any] = []

    def fetch() -> Any:
        response = api.get(path, params=params)
        last[:] = [response.text]
        body = response.json() if response.status_code == 200 else None
        return body if body is not None and ready(body) else None

    try:
        return poll(fetch, path, pause=pause)
    except AssertionError:
        raise AssertionError(f"{path} never got ready; last answer: {last[0][-2500:]}") from None


def backends(server: Server, shop: ProjectKey, order: str, trace: str, parent: str) -> None:
    """The Python services of the same checkout (sentry-python, continuing the JS trace)."""
    script = ROOT / "tests/e2e/js_backends_client.py"
    dsn = server.dsn(shop.id, shop.key)
    result = subprocess.run(
        [sys.executable, str(script), dsn, order, trace, parent],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def nothing_dropped(api: httpx.Client) -> None:
    """Whatever the SDK sent was read: no item skipped, no entry invalid or cut."""
    outcomes = api.get("/api/v1/outcomes").json()["outcomes"]
    assert {o["outcome"] for o in outcomes} == {"accepted"}, outcomes


# --- @sentry/node -----------------------------------------------------------------------------


def test_node_sdk_spans_logs_and_error_come_back_and_make_a_hop(
    server: Server, shop: ProjectKey
) -> None:
    order = str(uuid.uuid4())
    node = shutil.which("node") or "node"
    command = [node, str(JS / "node_client.mjs"), server.dsn(shop.id, shop.key), order, "js-node-1"]
    sent = run_json(command)
    api = httpx.Client(base_url=server.url, timeout=10)

    trace = api_when(api, f"/api/v1/traces/{sent['trace_id']}", lambda t: bool(t["spans"]))
    [span] = trace["spans"]
    assert (span["span_id"], span["is_segment"]) == (sent["span_id"], True)
    assert span["name"] == "checkout"
    assert (span["service"], span["op"], span["release"]) == ("frontend", "function", "js-node-1")

    logs = api_when(api, "/api/v1/logs", lambda b: bool(b["logs"]), order_id=order)["logs"]
    [entry] = logs
    assert (entry["body"], entry["level"]) == (f"checking out order {order}", "info")
    assert entry["template"] == "checking out order %s" and entry["parameters"] == [order]
    assert (entry["service"], entry["trace_id"]) == ("frontend", sent["trace_id"])
    assert entry["attributes"]["order_id"] == order

    error = api.get(f"/api/v1/events/{sent['error_id']}").json()
    assert error["keys"]["order_id"] == [order] and error["trace_id"] == sent["trace_id"]

    # The span-only segment and the error are the frontend hop of the order, which failed there.
    detail = api_when(api, f"/api/v1/orders/{order}", lambda o: o["status"] == "failed")
    assert detail["failed_service"] == "frontend" and detail["services"] == ["frontend"]
    assert (detail["hops"][0]["service"], detail["hops"][0]["status"]) == ("frontend", "failed")
    assert {e["type"] for e in detail["events"]} == {"transaction", "error"}
    assert [entry["body"] for entry in detail["logs"]] == [entry["body"]]
    assert detail["span_count"] == 1
    nothing_dropped(api)


# --- @sentry/browser in Chromium --------------------------------------------------------------


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The checkout page and @sentry/browser bundled as the global `Sentry` (the npm package
    ships no bundle), served from a local HTTP server thread; yields its base URL."""
    require(js_unavailable())
    root = tmp_path_factory.mktemp("site")
    shutil.copy(JS / "checkout.html", root / "checkout.html")
    esbuild = JS / "node_modules/.bin/esbuild"
    entry = JS / "sentry-browser-global.mjs"
    bundle = [str(esbuild), str(entry), "--bundle", "--format=iife", "--log-level=warning"]
    subprocess.run([*bundle, f"--outfile={root / 'sentry.js'}"], check=True, timeout=120)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=root))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        require("Debian's chromium is not installed (apt-get install chromium)")
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def envelope_items(body: bytes) -> Iterator[tuple[dict[str, Any], bytes]]:
    """The (item header, payload) pairs of an envelope as sent (newline-delimited; a `length`
    header, when given, is the payload's size in bytes)."""
    rest = body.split(b"\n", 1)[1] if b"\n" in body else b""
    while rest.strip():
        line, _, rest = rest.partition(b"\n")
        header = json.loads(line)
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] + 1 :]
        else:
            payload, _, rest = rest.partition(b"\n")
        yield header, payload


class Recorder:
    """Records what the page sends to sentrail (Playwright `page.route`), then lets it go on."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def __call__(self, route: Any) -> None:
        self.bodies.append(route.request.post_data_buffer or b"")
        route.continue_()

    def items(self, kind: str) -> list[dict[str, Any]]:
        return [
            json.loads(payload)
            for body in self.bodies
            for header, payload in envelope_items(body)
            if header.get("type") == kind
        ]


ERROR_STATUSES = {"errored", "crashed", "abnormal", "unhandled"}
ENDS = ("exited", "errored", "crashed", "abnormal", "unhandled")


def relay_counts(updates: list[dict[str, Any]]) -> dict[str, int]:
    """Relay's session counting, by hand (docs/protocol.md#sessions-release-health): a
    session is in `total` once, on its `init` update; errored once if any update has errors or
    an error status; its first end counts once. Shown as Sentry shows them: `errored` only
    for those that did not also crash, end abnormally or end unhandled."""
    by_sid: dict[str, list[dict[str, Any]]] = {}
    for update in updates:
        by_sid.setdefault(update["sid"], []).append(update)
    counts = dict.fromkeys(("total", "exited", "errored", "abnormal", "crashed", "unhandled"), 0)
    for seen in by_sid.values():
        counts["total"] += any(u.get("init") is True for u in seen)
        errored = any(u.get("errors", 0) > 0 or u["status"] in ERROR_STATUSES for u in seen)
        end = next((u["status"] for u in seen if u["status"] in ENDS), None)
        if end in ("exited", "crashed", "abnormal", "unhandled"):
            counts[end] += 1
        counts["errored"] += errored and end not in ("crashed", "abnormal", "unhandled")
    users = {u["did"] for u in updates if u.get("did")}
    crashed = {u["did"] for u in updates if u.get("did") and u["status"] == "crashed"}
    return {**counts, "users": len(users), "crashed_users": len(crashed)}


def open_checkout(page: Any, site: str, dsn: str, order: str, *, crash: bool) -> dict[str, str]:
    """Loads the checkout page for `order`, waits until the SDK has sent what it holds (its
    flush promise), and returns what the page says it sent."""
    query = {"dsn": dsn, "order": order, "release": BROWSER_RELEASE, "crash": "1" if crash else ""}
    page.goto(f"{site}/checkout.html?{urlencode(query)}")
    sent: dict[str, str] = page.evaluate("window.sent")
    assert page.evaluate("Sentry.flush(10000)") is True
    return sent


BROWSER_RELEASE = "js-browser-1"


def test_browser_sdk_in_chromium_spans_logs_sessions_and_a_journey_with_python_backends(
    server: Server, shop: ProjectKey, site: str, chromium: Any
) -> None:
    api = httpx.Client(base_url=server.url, timeout=10)
    dsn = server.dsn(shop.id, shop.key)
    crashed_order, order = str(uuid.uuid4()), str(uuid.uuid4())
    recorder = Recorder()
    page = chromium.new_page()
    try:
        page.route(f"{server.url}/api/**", recorder)
        # One page load ends in an uncaught error; the next is a clean checkout.
        open_checkout(page, site, dsn, crashed_order, crash=True)
        sent = open_checkout(page, site, dsn, order, crash=False)
        backends(server, shop, order, sent["trace_id"], sent["span_id"])
        check_trace(api, sent, page)
    finally:
        page.close()
    check_logs(api, order, sent["trace_id"])
    check_journey(api, order, crashed_order)
    check_sessions(api, recorder)
    nothing_dropped(api)


def check_trace(api: httpx.Client, sent: dict[str, str], page: Any) -> None:
    """The pageload segment (it ends when the page goes idle) and the checkout span, streamed
    as span v2 by the browser, beside the Python backends' transactions in one trace."""

    def ready(trace: Any) -> bool:
        services = {s["service"] for s in trace["spans"] if s["is_segment"]}
        return {"frontend", "order", "payment", "shipping"} <= services

    # The page's requests pass through `Recorder`, which runs only while Playwright does.
    trace = api_when(
        api, f"/api/v1/traces/{sent['trace_id']}", ready, lambda s: page.wait_for_timeout(s * 1000)
    )
    spans = {s["span_id"]: s for s in trace["spans"]}
    checkout = spans[sent["span_id"]]
    assert (checkout["name"], checkout["op"], checkout["service"]) == (
        "checkout",
        "ui.action",
        "frontend",
    )
    segment = spans[checkout["parent_span_id"]]
    assert segment["is_segment"] is True and segment["op"] == "pageload"
    assert checkout["segment_id"] == segment["span_id"] and segment["release"] == BROWSER_RELEASE


def check_logs(api: httpx.Client, order: str, trace_id: str) -> None:
    listed = api_when(api, "/api/v1/logs", lambda b: bool(b["logs"]), order_id=order)["logs"]
    [entry] = [e for e in listed if e["service"] == "frontend"]
    assert (entry["body"], entry["level"], entry["trace_id"]) == (
        f"placing order {order}",
        "info",
        trace_id,
    )
    assert entry["attributes"]["order_id"] == order and entry["release"] == BROWSER_RELEASE


CHECKOUT_HOPS = [
    ("frontend", "ok"),
    ("order", "ok"),
    ("payment", "ok"),
    ("order", "ok"),
    ("shipping", "ok"),
]


def check_journey(api: httpx.Client, order: str, crashed_order: str) -> None:
    """The browser (span v2 only: no transaction, no error) is the frontend hop, and every hop
    of the checkout is there; the page that crashed failed its own order at the frontend."""

    def complete(detail: Any) -> bool:
        hops = [(h["service"], h["status"]) for h in detail["hops"]]
        return bool(detail["status"] == "completed" and hops == CHECKOUT_HOPS)

    # The correlator may see the backends before the browser's segment: wait for the whole.
    detail = api_when(api, f"/api/v1/orders/{order}", complete)
    frontend = [e for e in detail["events"] if e["service"] == "frontend"]
    assert [e["type"] for e in frontend] == ["transaction"]
    assert f"placing order {order}" in {entry["body"] for entry in detail["logs"]}
    crashed = api_when(api, f"/api/v1/orders/{crashed_order}", lambda o: o["status"] == "failed")
    assert crashed["failed_service"] == "frontend"


def check_sessions(api: httpx.Client, recorder: Recorder) -> None:
    """The release's sessions are what Relay makes of the updates the browser sent."""
    updates = recorder.items("session")
    expected = relay_counts(updates)
    # Two page loads, two sessions: the uncaught error's ended unhandled (not crashed).
    assert (expected["total"], expected["unhandled"], expected["crashed"]) == (2, 1, 0), updates
    row = {"release": BROWSER_RELEASE, "environment": "e2e", **expected}

    def counted(body: Any) -> bool:
        return bool(body["sessions"] == [row])

    api_when(api, "/api/v1/sessions", counted, release=BROWSER_RELEASE)
