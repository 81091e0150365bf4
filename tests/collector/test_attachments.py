"""`attachment` items through the envelope endpoint: stored once per event and name, capped
per item and per project, scrubbed when text, listed and served as downloads only; bad ones
are outcomes and cost the envelope's other items nothing."""

import gzip
import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from collector.lanes import LARGE_BODY
from collector.settings import CollectorSettings
from dashboard.settings import DashboardSettings
from sentrail.app import create_app
from store.engine import Database
from store.models import Attachment, AttachmentUsage
from store.settings import DatabaseSettings
from tests.collector.envelopes import event
from tests.collector.user_items import attachment_item, envelope_with
from tests.conftest import ProjectKey

ITEM_CAP = 200_000
PROJECT_CAP = 1_000_000


@pytest.fixture
def collector_settings() -> CollectorSettings:
    return CollectorSettings(
        max_attachment_bytes=ITEM_CAP, max_project_attachment_bytes=PROJECT_CAP
    )


def post(client: TestClient, project: ProjectKey, body: bytes, **headers: str) -> httpx.Response:
    return client.post(
        f"/api/{project.id}/envelope/", content=body, headers={**project.auth, **headers}
    )


def outcomes(client: TestClient) -> dict[tuple[str, str, str], int]:
    found = client.get("/api/v1/outcomes").json()["outcomes"]
    return {(o["outcome"], o["category"], o["reason"]): o["quantity"] for o in found}


def usage(database: Database, project: ProjectKey) -> int:
    with database.sessions() as session:
        return (
            session.scalar(
                select(AttachmentUsage.bytes).where(AttachmentUsage.project_id == project.id)
            )
            or 0
        )


def test_attachments_are_listed_and_downloaded_as_sent(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    error = event()
    binary = os.urandom(5000)
    body = envelope_with(
        attachment_item(b"cart: 3 items\n", "cart.txt", "text/plain"),
        attachment_item(binary, "dump.bin", None, attachment_type="event.minidump"),
        event=error,
    )
    assert post(client, project, body).status_code == 200
    listed = client.get(f"/api/v1/events/{error['event_id']}/attachments").json()
    assert listed["event_id"] == error["event_id"]
    assert [
        (a["filename"], a["content_type"], a["attachment_type"], a["size"])
        for a in listed["attachments"]
    ] == [
        ("cart.txt", "text/plain", "event.attachment", 14),
        ("dump.bin", "application/octet-stream", "event.minidump", 5000),
    ]
    got = client.get(f"/api/v1/events/{error['event_id']}/attachments/dump.bin")
    assert got.status_code == 200 and got.content == binary
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"] == (
        "attachment; filename=\"dump.bin\"; filename*=UTF-8''dump.bin"
    )
    with database.sessions() as session:
        stored = session.scalars(select(Attachment.data)).all()
    assert binary not in stored  # compressed
    assert usage(database, project) == 14 + 5000
    assert outcomes(client)[("accepted", "attachment", "stored")] == 2


def test_a_replayed_envelope_stores_its_attachments_once(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    body = envelope_with(attachment_item(b"x" * 100), event=event())
    for _ in range(2):
        assert post(client, project, body).status_code == 200
    with database.sessions() as session:
        assert len(session.scalars(select(Attachment.id)).all()) == 1
    assert usage(database, project) == 100
    counted = outcomes(client)
    assert counted[("accepted", "attachment", "stored")] == 1
    assert counted[("duplicate", "attachment", "already stored")] == 1


@pytest.mark.parametrize(
    ("filename", "ascii_name", "utf8_name"),
    [
        ("../../etc/passwd", "passwd", "passwd"),
        ("<script>.html", "_script_.html", "%3Cscript%3E.html"),
        ("<img src=x onerror=alert(1)></b>.html", "b_.html", "b%3E.html"),
        ('a"b;c\r\n.txt', "a_b_c.txt", None),
        ("..", "attachment", "attachment"),
        ("résumé 2026.pdf", "r_sum__2026.pdf", "r%C3%A9sum%C3%A9%202026.pdf"),
    ],
)
def test_hostile_names_are_served_as_downloads_with_safe_names(
    client: TestClient, project: ProjectKey, filename: str, ascii_name: str, utf8_name: str | None
) -> None:
    error = event()
    page = b"<html><script>alert(1)</script></html>"
    body = envelope_with(attachment_item(page, filename, "text/html"), event=error)
    assert post(client, project, body).status_code == 200
    [listed] = client.get(f"/api/v1/events/{error['event_id']}/attachments").json()["attachments"]
    assert listed["content_type"] == "text/html"  # shown as the client said, never served so
    name = listed["filename"]
    # Percent-encoded, dots too: clients drop a `..` path segment before sending.
    url_name = quote(name, safe="").replace(".", "%2E")
    got = client.get(f"/api/v1/events/{error['event_id']}/attachments/{url_name}")
    assert got.status_code == 200 and got.content == page
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in got.headers["content-security-policy"]
    disposition = got.headers["content-disposition"]
    assert disposition.startswith(f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''")
    assert "/" not in disposition and "\r" not in disposition and "\n" not in disposition
    if utf8_name is not None:
        assert disposition.endswith(f"''{utf8_name}")


def test_text_attachments_are_scrubbed_and_binary_ones_are_not(
    client: TestClient, project: ProjectKey
) -> None:
    error = event()
    card = b"4111111111111111"
    body = envelope_with(
        attachment_item(b"password=hunter2 card " + card + b"\n\xff\xfe", "log.txt"),
        attachment_item(
            orjson.dumps({"user": {"password": "hunter2"}}), "s.json", "application/json"
        ),
        attachment_item(b"password=hunter2 " + card, "raw.bin", "application/octet-stream"),
        event=error,
    )
    assert post(client, project, body).status_code == 200
    base = f"/api/v1/events/{error['event_id']}/attachments"
    log = client.get(f"{base}/log.txt").content
    assert b"hunter2" not in log and card not in log and log.endswith(b"\n\xff\xfe")
    assert orjson.loads(client.get(f"{base}/s.json").content) == {
        "user": {"password": "[Filtered]"}
    }
    assert client.get(f"{base}/raw.bin").content == b"password=hunter2 " + card


def test_large_attachments_take_the_large_request_lane(
    client: TestClient, project: ProjectKey
) -> None:
    error = event()
    data = os.urandom(ITEM_CAP)  # the cap itself is allowed
    body = envelope_with(attachment_item(data, "big.bin", None), event=error)
    assert len(body) > LARGE_BODY
    assert post(client, project, body).status_code == 200
    got = client.get(f"/api/v1/events/{error['event_id']}/attachments/big.bin")
    assert got.content == data
    zipped = envelope_with(attachment_item(b"y" * ITEM_CAP, "big.txt"), event=event())
    response = post(client, project, gzip.compress(zipped), **{"Content-Encoding": "gzip"})
    assert response.status_code == 200


def test_oversized_and_malformed_attachments_are_outcomes_and_the_event_is_stored(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    error = event()
    body = envelope_with(
        attachment_item(b"z" * (ITEM_CAP + 1), "huge.txt"),
        attachment_item(b"no name", ""),
        attachment_item(b"\x00\x01", "\x00\x01\x02"),
        attachment_item(b"fine", "fine.txt"),
        event=error,
    )
    assert post(client, project, body).status_code == 200
    listed = client.get(f"/api/v1/events/{error['event_id']}/attachments").json()
    assert [a["filename"] for a in listed["attachments"]] == ["fine.txt"]
    orphan = envelope_with(attachment_item(b"lost", "a.txt"))  # no event_id in the header
    assert post(client, project, orphan).status_code == 200
    counted = outcomes(client)
    assert counted[("invalid", "attachment", f"attachment larger than {ITEM_CAP} bytes")] == 1
    assert counted[("invalid", "attachment", "attachment without a filename")] == 2
    assert (
        counted[("invalid", "attachment", "attachment without the event_id of its envelope")] == 1
    )
    assert client.get(f"/api/v1/events/{error['event_id']}").status_code == 200


def test_past_the_project_quota_attachments_are_dropped_and_counted(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    chunk = b"q" * 60_000
    for _ in range(PROJECT_CAP // len(chunk) + 2):
        body = envelope_with(attachment_item(chunk, "part.txt"), event=event())
        assert post(client, project, body).status_code == 200
    assert usage(database, project) == (PROJECT_CAP // len(chunk)) * len(chunk)
    counted = outcomes(client)
    assert counted[("accepted", "attachment", "stored")] == PROJECT_CAP // len(chunk)
    assert counted[("rate_limited", "attachment", "project attachment quota exceeded")] == 2


def test_unknown_events_and_names_are_404(client: TestClient, project: ProjectKey) -> None:
    error = event()
    assert post(client, project, envelope_with(event=error)).status_code == 200
    base = f"/api/v1/events/{error['event_id']}/attachments"
    assert client.get(base).json() == {"event_id": error["event_id"], "attachments": []}
    missing = client.get(f"{base}/nope.txt")
    assert missing.status_code == 404 and "nope.txt" in missing.json()["detail"]
    assert client.get(f"/api/v1/events/{uuid.uuid4().hex}/attachments").status_code == 404


@pytest.fixture
def walled(database_url: str, project: ProjectKey) -> Iterator[TestClient]:
    app = create_app(
        DatabaseSettings(database_url=database_url),
        CollectorSettings(),
        DashboardSettings(dashboard_token="t" * 32),
    )
    with TestClient(app) as test_client:
        yield test_client


def test_attachments_are_behind_the_read_api_token(walled: TestClient, project: ProjectKey) -> None:
    error = event()
    assert (
        post(walled, project, envelope_with(attachment_item(b"s"), event=error)).status_code == 200
    )
    base = f"/api/v1/events/{error['event_id']}/attachments"
    assert walled.get(base).status_code == 401
    assert walled.get(f"{base}/cart.txt").status_code == 401
    bearer = {"Authorization": f"Bearer {'t' * 32}"}
    assert walled.get(f"{base}/cart.txt", headers=bearer).content == b"s"


def test_one_envelope_crossing_the_quota_stores_what_fits(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    error = event()
    parts = [attachment_item(b"p" * 60_000, f"part-{i:02}.txt") for i in range(20)]
    assert post(client, project, envelope_with(*parts, event=error)).status_code == 200
    fits = PROJECT_CAP // 60_000
    listed = client.get(f"/api/v1/events/{error['event_id']}/attachments").json()["attachments"]
    assert [a["filename"] for a in listed] == [f"part-{i:02}.txt" for i in range(fits)]
    assert usage(database, project) == fits * 60_000
    counted = outcomes(client)
    assert counted[("accepted", "attachment", "stored")] == fits
    assert counted[("rate_limited", "attachment", "project attachment quota exceeded")] == 20 - fits


def test_with_the_default_caps_a_10_mib_attachment_is_stored_and_one_byte_more_is_not(
    walled: TestClient, project: ProjectKey
) -> None:
    """The default SENTRAIL_MAX_ATTACHMENT_BYTES through the default body and envelope caps
    and the large-request lane, compressed on the wire as SDKs send it."""
    cap = CollectorSettings().max_attachment_bytes
    error = event()
    data = os.urandom(cap)
    for attachment in (
        attachment_item(data, "full.bin", None),
        attachment_item(b"\0" * (cap + 1), "over.bin", None),
    ):
        body = gzip.compress(envelope_with(attachment, event=error), 1)
        answer = post(walled, project, body, **{"Content-Encoding": "gzip"})
        assert answer.status_code == 200, answer.text
    bearer = {"Authorization": f"Bearer {'t' * 32}"}
    base = f"/api/v1/events/{error['event_id']}/attachments"
    listed = walled.get(base, headers=bearer).json()["attachments"]
    assert [(a["filename"], a["size"]) for a in listed] == [("full.bin", cap)]
    assert walled.get(f"{base}/full.bin", headers=bearer).content == data
