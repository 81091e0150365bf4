"""Release health from sessions a real sentry-sdk sent, against numbers computed by hand."""

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.server import ROOT, Server, running_server
from store.engine import Database
from store.settings import DatabaseSettings
from tests.conftest import make_project

# Four users over ten sessions per release; r2 crashes more.
PLANS = {
    "app@1.0": [
        ["ann", "ok"], ["bob", "ok"], ["cid", "errored"], ["dee", "ok"], ["ann", "crashed"],
        ["bob", "ok"], ["cid", "ok"], ["dee", "ok"], ["ann", "ok"], ["bob", "errored"],
    ],
    "app@2.0": [
        ["ann", "crashed"], ["bob", "ok"], ["cid", "crashed"], ["dee", "ok"], ["ann", "ok"],
        ["bob", "crashed"], ["cid", "errored"], ["dee", "ok"], ["ann", "ok"], ["bob", "ok"],
    ],
}  # fmt: skip


def by_hand(plan: list[list[str]]) -> dict[str, Any]:
    total = len(plan)
    crashed = sum(1 for _, outcome in plan if outcome == "crashed")
    errored = sum(1 for _, outcome in plan if outcome == "errored")
    users = {user for user, _ in plan}
    crashed_users = {user for user, outcome in plan if outcome == "crashed"}
    return {
        "sessions": {
            "total": total,
            "crashed": crashed,
            "errored": errored,
            "abnormal": 0,
            "unhandled": 0,
        },
        "crash_free_sessions": round(1 - crashed / total, 6),
        "crash_free_users": round(1 - len(crashed_users) / len(users), 6),
        "users": len(users),
    }


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[tuple[Server, str]]:
    database = Database(DatabaseSettings(database_url=database_url))
    project = make_project(database, "mobile")
    database.dispose()
    with running_server(database_url, tmp_path / "server.log") as running:
        yield running, running.dsn(project.id, project.key)


def release(server: Server, version: str, sessions: int) -> dict[str, Any]:
    """The release once all its sessions are stored (SDKs send them in the background)."""
    deadline = time.monotonic() + 30
    while True:
        answer = httpx.get(f"{server.url}/api/v1/releases/{version}", timeout=5)
        if answer.status_code == 200 and answer.json()["sessions"]["total"] >= sessions:
            body: dict[str, Any] = answer.json()
            return body
        assert time.monotonic() < deadline, answer.text
        time.sleep(0.2)  # polling until the sessions arrived, bounded


def test_crash_free_sessions_and_users_equal_the_hand_computed(
    server: tuple[Server, str],
) -> None:
    running, dsn = server
    for version, plan in PLANS.items():
        subprocess.run(
            [sys.executable, str(ROOT / "tests/e2e/sessions_client.py"), dsn, version,
             json.dumps(plan)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    first = release(running, "app@1.0", 10)
    second = release(running, "app@2.0", 10)
    for got, version in ((first, "app@1.0"), (second, "app@2.0")):
        expected = by_hand(PLANS[version])
        assert {k: got[k] for k in expected} == expected, version
    assert second["previous_release"] == "app@1.0"
    assert second["delta"]["crash_free_sessions"] == round(
        by_hand(PLANS["app@2.0"])["crash_free_sessions"]
        - by_hand(PLANS["app@1.0"])["crash_free_sessions"],
        6,
    )
    listed = {
        r["version"]: r for r in httpx.get(f"{running.url}/api/v1/releases").json()["releases"]
    }
    assert listed["app@2.0"]["crash_free_sessions"] == 0.7
