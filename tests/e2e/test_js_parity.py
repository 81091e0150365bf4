"""@sentry/node's user feedback, attachments and cron check-ins against a real `sentrail
serve`, as tests/js/package-lock.json pins the SDK; then the monitor checker, with the clock
moved on instead of sleeping, finds the monitor that stopped checking in. And sentry-cli's
`monitors run` (npm's @sentry/cli, pinned in the same lockfile) wrapping a command that
succeeds and one that fails. The Python SDK's side of the same is
tests/e2e/test_sdk_feedback.py and tests/e2e/test_sdk_crons.py.

Without Node/npm (or the installed packages, or a sentry-cli binary for this platform) these
tests skip with the reason; with CI=true they fail instead (the rule of
tests/e2e/test_js_sdks.py).
"""

import base64
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.server import Server, running_server
from correlator.monitors import MonitorChecker
from store.engine import Database
from tests.conftest import ProjectKey
from tests.e2e.test_js_sdks import JS, api_when, js_unavailable, nothing_dropped, require, run_json

RELEASE = "node-parity-1"
SLUGS = ("node-hourly", "node-heartbeat")


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    require(js_unavailable())
    with running_server(database_url, tmp_path / "server.log") as running:
        yield running


def run_node(server: Server, project: ProjectKey) -> dict[str, Any]:
    order = str(uuid.uuid4())
    node = shutil.which("node") or "node"
    dsn = server.dsn(project.id, project.key)
    return run_json([node, str(JS / "node_parity.mjs"), dsn, order, RELEASE])


def test_node_sdk_feedback_attachments_and_check_ins_come_back_and_a_silent_monitor_is_missed(
    server: Server, project: ProjectKey, database: Database
) -> None:
    sent = run_node(server, project)
    api = httpx.Client(base_url=server.url, timeout=10)
    check_attachments(api, sent)
    check_feedback(api, sent)
    check_monitors(api, sent)
    # every check-in carries the trace of the scope it was sent from (contexts.trace)
    trace = api.get(f"/api/v1/events/{sent['error_id']}").json()["trace_id"]
    runs = [api.get(f"/api/v1/monitors/{slug}").json()["runs"] for slug in SLUGS]
    assert {r["trace_id"] for monitor in runs for r in monitor} == {trace}
    check_missed(api, database)
    nothing_dropped(api)


def check_attachments(api: httpx.Client, sent: dict[str, Any]) -> None:
    """Both files of the error's scope, listed with what the SDK said of them, and served
    back byte for byte, as downloads only."""
    base = f"/api/v1/events/{sent['error_id']}/attachments"
    listed = api_when(api, base, lambda body: len(body["attachments"]) == 2)["attachments"]
    assert {(a["filename"], a["content_type"], a["attachment_type"]) for a in listed} == {
        ("receipt.bin", "application/octet-stream", "event.attachment"),
        ("cart.json", "application/json", "event.attachment"),
    }
    receipt = api.get(f"{base}/receipt.bin")
    assert receipt.status_code == 200
    assert receipt.content == base64.b64decode(sent["receipt"])
    assert receipt.headers["content-type"] == "application/octet-stream"
    assert receipt.headers["content-disposition"].startswith('attachment; filename="receipt.bin"')
    assert receipt.headers["x-content-type-options"] == "nosniff"
    cart = api.get(f"{base}/cart.json")
    assert cart.headers["content-type"] == "application/octet-stream"
    assert json.loads(cart.content) == {"items": 2, "total": 41.5, "password": "[Filtered]"}


def check_feedback(api: httpx.Client, sent: dict[str, Any]) -> None:
    """`Sentry.captureFeedback` about the error: stored, linked to the error, its trace and,
    through the order id tag it carries from the scope, its order."""
    error = api.get(f"/api/v1/events/{sent['error_id']}").json()
    assert error["keys"]["order_id"] == [sent["order_id"]]

    def found(body: Any) -> bool:
        return bool(body["feedback"])

    listed = api_when(api, "/api/v1/feedback", found, order_id=sent["order_id"])["feedback"]
    [said] = listed
    assert (said["source"], said["event_id"]) == ("feedback", sent["feedback_id"])
    assert said["message"] == "I was charged but the order failed"
    assert (said["name"], said["email"]) == ("Jane Doe", "jane@example.com")
    assert said["associated_event_id"] == sent["error_id"]
    assert (said["trace_id"], said["order_id"]) == (error["trace_id"], sent["order_id"])
    assert (said["release"], said["environment"]) == (RELEASE, "e2e")
    assert said["url"] is None  # Node has no page: captureFeedback sends no url
    page = api.get(f"/orders/{sent['order_id']}")
    assert page.status_code == 200 and "I was charged but the order failed" in page.text


def check_monitors(api: httpx.Client, sent: dict[str, Any]) -> None:
    """The monitors made by the SDK's `monitorConfig` (camelCase in JS, sent as Sentry's
    snake_case), and one run per check-in id: start and end merged."""
    listed = {m["slug"] for m in api.get("/api/v1/monitors").json()["monitors"]}
    assert listed == set(SLUGS)

    hourly = api.get("/api/v1/monitors/node-hourly").json()
    assert hourly["schedule"] == {"type": "crontab", "value": "0 * * * *", "unit": None}
    assert (hourly["timezone"], hourly["checkin_margin"], hourly["max_runtime"]) == (
        "Europe/Berlin",
        5,
        10,
    )
    [run] = hourly["runs"]
    assert run["check_in_id"] == uuid.UUID(sent["hourly_check_in_id"]).hex
    assert (run["status"], run["release"], run["environment"]) == ("ok", RELEASE, "e2e")
    assert run["duration"] > 0 and run["finished_at"] is not None
    assert hourly["status"] == "ok"

    heartbeat = api.get("/api/v1/monitors/node-heartbeat").json()
    assert heartbeat["schedule"] == {"type": "interval", "value": 10, "unit": "minute"}
    assert (heartbeat["checkin_margin"], heartbeat["max_runtime"]) == (2, 30)
    # withMonitor: the job that succeeded, then the one that threw (newest first)
    assert [r["status"] for r in heartbeat["runs"]] == ["error", "ok"]
    assert all(r["duration"] > 0 and r["release"] == RELEASE for r in heartbeat["runs"])
    assert heartbeat["status"] == "error"


def deadline(monitor: dict[str, Any]) -> datetime:
    expected = datetime.fromisoformat(monitor["next_expected_at"])
    return expected + timedelta(minutes=monitor["checkin_margin"])


def check_at(database: Database, at: datetime) -> tuple[int, int]:
    result = MonitorChecker(database, clock=lambda: at).run_once()
    return result.missed, result.timed_out


def check_missed(api: httpx.Client, database: Database) -> None:
    """The heartbeat stops: missed once its expected time plus its margin has passed, and
    not before. (The hourly monitor may come due in between; it is counted where it does.)"""
    monitors = api.get("/api/v1/monitors").json()["monitors"]
    heartbeat = next(m for m in monitors if m["slug"] == "node-heartbeat")
    before = deadline(heartbeat) - timedelta(seconds=5)
    after = deadline(heartbeat) + timedelta(seconds=5)

    def due(start: datetime | None, end: datetime) -> int:
        return sum(
            1 for m in monitors if (start is None or start < deadline(m)) and deadline(m) < end
        )

    assert check_at(database, before) == (due(None, before), 0)
    assert api.get("/api/v1/monitors/node-heartbeat").json()["status"] == "error"
    assert check_at(database, after) == (due(before, after), 0)
    detail = api.get("/api/v1/monitors/node-heartbeat").json()
    assert detail["status"] == "missed"
    missed = detail["runs"][0]
    assert (missed["status"], missed["expected_at"]) == (
        "missed",
        heartbeat["next_expected_at"],
    )


# --- sentry-cli monitors run ------------------------------------------------------------------

SENTRY_CLI = JS / "node_modules/.bin/sentry-cli"


def cli_unavailable() -> str | None:
    """Why `sentry-cli` cannot run, or None. npm installs its native binary from the platform
    package (`@sentry/cli-linux-x64` …, pinned in the lockfile), not from its postinstall
    download, which `npm ci --ignore-scripts` skips."""
    if (reason := js_unavailable()) is not None:
        return reason
    if not SENTRY_CLI.exists():
        return "@sentry/cli is not installed in tests/js (`make test` runs npm ci there)"
    version = subprocess.run(
        [str(SENTRY_CLI), "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    if version.returncode != 0:
        return f"sentry-cli does not run here: {version.stderr.strip()[-300:]}"
    return None


@pytest.fixture
def sentry_cli() -> Path:
    require(cli_unavailable())
    return SENTRY_CLI


def monitors_run(server: Server, project: ProjectKey, cwd: Path, *arguments: str) -> int:
    """`sentry-cli monitors run -e e2e …`, reporting to sentrail by the DSN in SENTRY_DSN (no
    auth token: it sends `check_in` envelopes to the DSN's ingest, as an SDK does); its exit
    status is the wrapped command's. Run in `cwd` so no `.sentryclirc` of the checkout counts."""
    env = {
        **os.environ,
        "SENTRY_DSN": server.dsn(project.id, project.key),
        "SENTRY_DISABLE_UPDATE_CHECK": "true",
    }
    command = [str(SENTRY_CLI), "monitors", "run", "-e", "e2e", *arguments]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=60, check=False, cwd=cwd, env=env
    )
    return result.returncode


# The first run makes the monitor: `--schedule` (and what requires it) is its monitor_config.
CLI_CONFIG = ("--schedule", "*/15 * * * *", "--check-in-margin", "3", "--max-runtime", "20")
CLI_ZONE = ("--timezone", "Europe/Vienna")


def test_sentry_cli_monitors_run_stores_its_runs_ok_and_error(
    sentry_cli: Path, server: Server, project: ProjectKey, tmp_path: Path
) -> None:
    ok = monitors_run(server, project, tmp_path, *CLI_CONFIG, *CLI_ZONE, "cli-backup", "--", "true")
    assert ok == 0
    # later runs need no schedule: the check-ins name the monitor by its slug
    failed = monitors_run(server, project, tmp_path, "cli-backup", "--", "sh", "-c", "exit 3")
    assert failed == 3
    api = httpx.Client(base_url=server.url, timeout=10)

    monitor = api_when(api, "/api/v1/monitors/cli-backup", lambda m: len(m["runs"]) == 2)
    assert monitor["schedule"] == {"type": "crontab", "value": "*/15 * * * *", "unit": None}
    assert (monitor["checkin_margin"], monitor["max_runtime"]) == (3, 20)
    assert monitor["timezone"] == "Europe/Vienna"
    runs = monitor["runs"]
    assert [r["status"] for r in runs] == ["error", "ok"]
    assert all(r["environment"] == "e2e" and r["duration"] is not None for r in runs)
    assert all(r["finished_at"] is not None for r in runs)
    assert monitor["status"] == "error"
    nothing_dropped(api)
