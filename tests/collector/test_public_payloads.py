"""Replays real payloads published by Sentry (tests/data/public_payloads, origins in its
SOURCES.md) through the ingest routes and checks, through the read API, that each is stored
as Sentry stores it (manifest.json, written from Sentry's docs and Relay's source).

The payload bytes are sent as published: webhook bodies are signed as they are, envelopes keep
their framing. Items published as bare JSON are framed here (one item with a `length`). An
expectation sentrail does not meet on purpose is a `differences` entry of the manifest and a
row of the README's compatibility table; its sentrail value is asserted too, so that a change
either way shows.
"""

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from collector.settings import CollectorSettings
from store.engine import Database
from store.models import Project
from tests.conftest import ProjectKey, make_project

CORPUS = Path(__file__).resolve().parents[1] / "data" / "public_payloads"
MANIFEST: dict[str, Any] = json.loads((CORPUS / "manifest.json").read_text())["payloads"]
SECRET = "public-payloads-client-secret"
PEER = "testclient"  # the client address Starlette's TestClient requests come from
# The develop docs' envelopes authenticate with their own `dsn` header: that project is made.
DOCS_DSN_PROJECT, DOCS_DSN_KEY = 42, "e12d836b15bb49d7bbf99e64295d995b"


@pytest.fixture
def collector_settings() -> CollectorSettings:
    return CollectorSettings(sentry_client_secret=SECRET)


@pytest.fixture
def project(database: Database) -> ProjectKey:
    """The test project, and the one the develop docs' DSN names (made before the app starts,
    so that its project cache knows it)."""
    with database.sessions.begin() as session:
        session.add(
            Project(
                id=DOCS_DSN_PROJECT,
                name="docs-dsn",
                public_key=DOCS_DSN_KEY,
                created_at=datetime.fromisoformat("2026-01-01T00:00:00+00:00"),
            )
        )
    return make_project(database)


def framed(
    item_type: str, payload: bytes, envelope_header: str, item_headers: dict[str, Any]
) -> bytes:
    """A payload published as bare JSON, as the one item of an envelope (bytes unchanged),
    with the item headers its page gives."""
    fields = {"type": item_type, **item_headers, "length": len(payload)}
    header = json.dumps(fields, separators=(",", ":"))
    return envelope_header.encode() + b"\n" + header.encode() + b"\n" + payload + b"\n"


def replay(client: TestClient, project: ProjectKey, name: str, how: dict[str, Any]) -> Any:
    """Sends one payload by the route its kind takes; returns the response."""
    body = (CORPUS / name).read_bytes()
    if how["route"] == "webhook":
        signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "Request-ID": hashlib.sha256(name.encode()).hexdigest()[:32],
            "Sentry-Hook-Resource": how["resource"],
            "Sentry-Hook-Timestamp": "1566248317",
            "Sentry-Hook-Signature": signature,
        }
        return client.post("/webhooks/sentry", content=body, headers=headers)
    if how["route"] == "store":
        return client.post(f"/api/{project.id}/store/", content=body, headers=project.auth)
    if how["route"] == "security":  # browsers post CSP reports with the key in the query
        url = f"/api/{project.id}/security/?sentry_key={project.key}"
        return client.post(url, content=body, headers={"Content-Type": "application/csp-report"})
    if "item" in how:
        body = framed(how["item"], body, how["envelope_header"], how.get("item_headers", {}))
    if how.get("auth") == "dsn header":
        return client.post(f"/api/{DOCS_DSN_PROJECT}/envelope/", content=body)
    return client.post(f"/api/{project.id}/envelope/", content=body, headers=project.auth)


def observed(client: TestClient, key: str, expected: Any) -> Any:
    """What the read API shows for one expectation key, shaped as the manifest writes it."""
    if key == "deliveries":
        shown = client.get("/api/v1/webhooks/deliveries").json()["deliveries"]
        return [[d["resource"], d["action"], d["outcome"]] for d in shown]
    if key == "issues":
        issues = client.get("/api/v1/issues").json()["issues"]
        return _paired(issues, expected, lambda issue, w: _issue(client, issue["id"], w))
    if key == "events":
        return {event_id: _event(client, event_id, fields) for event_id, fields in expected.items()}
    if key == "attachments":
        return {event_id: _attachments(client, event_id) for event_id in expected}
    if key == "outcomes":
        totals = client.get("/api/v1/outcomes").json()["outcomes"]
        # Accepted outcomes are counted in other categories than Sentry's (README,
        # Compatibility with Sentry): the manifest states what is dropped or discarded.
        return [o for o in totals if o["outcome"] != "accepted"]
    if key == "sessions":
        return client.get("/api/v1/sessions").json()["sessions"]
    if key == "feedback":
        shown = client.get("/api/v1/feedback").json()["feedback"]
        return _paired(shown, expected, _feedback)
    if key == "monitors":
        shown = client.get("/api/v1/monitors").json()["monitors"]
        return _paired(shown, expected, _pick)
    if key == "runs":
        return {slug: _runs(client, slug, runs) for slug, runs in expected.items()}
    if key == "traces":
        return {trace_id: _trace(client, trace_id, parts) for trace_id, parts in expected.items()}
    raise AssertionError(f"unknown expectation {key}")


def _trace(client: TestClient, trace_id: str, wanted: dict[str, Any]) -> dict[str, Any] | None:
    """A trace's event types, spans and log entries, each reduced to the named fields."""
    response = client.get(f"/api/v1/traces/{trace_id}")
    if response.status_code == 404:
        return None
    trace = response.json()
    return {
        "events": [event["type"] for event in trace["events"]],
        "spans": _paired(trace["spans"], wanted["spans"], _pick),
        # Entries of one timestamp have no order between them: compared by body.
        "logs": _paired(_by_body(trace["logs"]), _by_body(wanted["logs"]), _pick),
    }


def _paired(
    shown: list[dict[str, Any]],
    expected: list[dict[str, Any]],
    pick: Callable[[dict[str, Any], dict[str, Any]], Any],
) -> list[Any]:
    """Each listed row reduced to the fields its expectation names; all of them, whole, when
    there are more or fewer rows than expected (one per Sentry issue id, per item)."""
    if len(shown) != len(expected):
        return shown
    return [pick(row, wanted) for row, wanted in zip(shown, expected, strict=True)]


def _pick(shown: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The fields the manifest names (one the API lacks shows as absent)."""
    return {k: shown.get(k, "<absent>") for k in wanted}


def _feedback(shown: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    picked = _pick(shown, wanted)
    if "timestamp" in picked:
        picked["timestamp"] = _instant(shown["timestamp"])
    return picked


def _issue(client: TestClient, issue_id: int, wanted: dict[str, Any]) -> dict[str, Any]:
    issue = client.get(f"/api/v1/issues/{issue_id}").json()
    return _pick(issue, wanted)


def _event(client: TestClient, event_id: str, wanted: dict[str, Any]) -> dict[str, Any] | None:
    response = client.get(f"/api/v1/events/{event_id}")
    if response.status_code == 404:
        return None
    event = response.json()
    derived = ("timestamp_is_received_at", "user_ip")
    shown = _pick(event, {k: v for k, v in wanted.items() if k not in derived})
    if "user_ip" in wanted:  # kept in the raw payload, where `{{auto}}` was resolved
        shown["user_ip"] = (event["payload"].get("user") or {}).get("ip_address")
    if "timestamp" in shown:
        shown["timestamp"] = _instant(event["timestamp"])
    if "timestamp_is_received_at" in wanted:
        delay = datetime.fromisoformat(event["received_at"]) - datetime.fromisoformat(
            event["timestamp"]
        )
        shown["timestamp_is_received_at"] = abs(delay.total_seconds()) < 60
    return shown


def _attachments(client: TestClient, event_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/events/{event_id}/attachments")
    if response.status_code == 404:
        return []
    shown = []
    for attachment in response.json()["attachments"]:
        name = attachment["filename"]
        data = client.get(f"/api/v1/events/{event_id}/attachments/{name}").content
        shown.append(
            {
                "filename": name,
                "content_type": attachment["content_type"],
                "size": attachment["size"],
                "hex": data.hex(),
            }
        )
    return shown


def _runs(client: TestClient, slug: str, wanted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    runs = client.get(f"/api/v1/monitors/{slug}").json()["runs"]
    return _paired(runs, wanted, _pick)


def _by_body(logs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(logs, key=lambda entry: str(entry.get("body")))


def _instant(value: str) -> str:
    """A time as the manifest writes it (Sentry's microsecond `…Z` form)."""
    return datetime.fromisoformat(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _expected_field(name: str, value: Any) -> Any:
    if name == "timestamp":
        return _instant(value)
    return PEER if value == "{{peer}}" else value


def _normal(key: str, expected: Any) -> Any:
    """Times in the manifest may be written as Sentry writes them; compared as instants."""
    if key == "events":
        return {
            event_id: {k: _expected_field(k, v) for k, v in fields.items()}
            for event_id, fields in expected.items()
        }
    if key == "traces":
        return {
            trace_id: {**parts, "logs": _by_body(parts["logs"])}
            for trace_id, parts in expected.items()
        }
    if key in ("issues", "feedback"):
        return [
            {k: _instant(v) if k in ("first_seen", "timestamp") else v for k, v in row.items()}
            for row in expected
        ]
    return expected


def _documented(expect: dict[str, Any], differences: list[dict[str, Any]]) -> dict[str, Any]:
    """The expectations with each documented difference's sentrail value in place of Sentry's
    (after checking the manifest states Sentry's value where the difference says it does)."""
    result = json.loads(json.dumps(expect))
    for difference in differences:
        *parents, last = difference["path"]
        holder = result
        for part in parents:
            holder = holder[part]
        assert holder[last] == difference["sentry"], difference["path"]
        assert difference["sentry"] != difference["sentrail"], difference["path"]
        holder[last] = difference["sentrail"]
    return result


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_public_payload_is_stored_as_sentry_stores_it(
    client: TestClient, project: ProjectKey, name: str
) -> None:
    entry = MANIFEST[name]
    response = replay(client, project, name, entry["replay"])
    expect = _documented(entry["expect"], entry.get("differences", []))
    assert response.status_code == expect.pop("status"), response.text
    if "response" in expect:
        assert response.json() == expect.pop("response")
    for key, expected in expect.items():
        wrong = _mismatches(observed(client, key, expected), _normal(key, expected), (key,))
        assert not wrong, wrong


def _mismatches(shown: Any, expected: Any, path: tuple[Any, ...]) -> list[str]:
    """Every place the stored value differs from the expected one, named by its path."""
    if isinstance(expected, dict) and isinstance(shown, dict) and shown.keys() == expected.keys():
        return [m for k in expected for m in _mismatches(shown[k], expected[k], (*path, k))]
    if isinstance(expected, list) and isinstance(shown, list) and len(shown) == len(expected):
        pairs = zip(shown, expected, strict=True)
        return [m for i, (s, e) in enumerate(pairs) for m in _mismatches(s, e, (*path, i))]
    return [] if shown == expected else [f"{'/'.join(map(str, path))}: {shown!r} != {expected!r}"]


def test_every_documented_difference_has_its_readme_row() -> None:
    """A difference is deliberate only if the README's compatibility table says so."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("## Compatibility with Sentry", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    for name, entry in MANIFEST.items():
        for difference in entry.get("differences", []):
            assert any(row.startswith(f"| {difference['readme']}") for row in rows), name
