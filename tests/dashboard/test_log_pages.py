"""Logs on the pages: an order's entries interleaved with its events and as a filterable list;
the `/logs` search page with the API's filters, cursor paging and hostile text as text."""

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from reads.changes import change_mark
from sentrail.settings import Role
from store.engine import Database
from tests.collector.telemetry_payloads import envelope, item, log
from tests.collector.test_endpoints import post
from tests.conftest import ProjectKey
from tests.correlator.shop_events import BASE, Shop
from tests.correlator.test_worker import correlate

HOSTILE = "<script>alert('log')</script>"


@pytest.fixture
def app_roles() -> frozenset[Role]:
    """The test runs the correlator itself."""
    return frozenset({"collector", "dashboard"})


def entry(service: str, order: str, trace: str, level: str, body: str, at: float) -> Any:
    return log(
        trace_id=trace, level=level, body=body, timestamp=BASE.timestamp() + at,
        attributes={"server.address": service, "order_id": order},
    )  # fmt: skip


def _order(client: TestClient, project: ProjectKey, database: Database) -> tuple[str, str]:
    order, trace = str(uuid.uuid4()), uuid.uuid4().hex
    shop = Shop(client, project)
    shop.send(
        shop.transaction("order", 0, trace, order),
        shop.message("payment", 2, trace, "payment settled", tags={"order_id": order}),
    )
    entries = [
        entry("order", order, trace, "info", f"order {order} placed", 1),
        entry("payment", order, trace, "warn", "card check slow", 1.5),
        entry("shipping", order, trace, "info", HOSTILE, 3),
    ]
    assert post(client, project, envelope(item("log", entries))).status_code == 200
    correlate(database)
    return order, trace


def _titles(html: str) -> list[str]:
    """The order page's event list: event titles and log bodies, in page order."""
    events = html.split('<section class="events">', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<(?:strong class="title"|span class="body")>([^<]*)<', events)


def test_the_order_page_interleaves_its_logs_and_filters_them(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    order, _ = _order(client, project, database)
    page = client.get(f"/orders/{order}")
    assert page.status_code == 200, page.text
    escaped = "&lt;script&gt;alert(&#39;log&#39;)&lt;/script&gt;"
    assert _titles(page.text) == [
        "order handler", f"order {order} placed", "card check slow", "payment settled", escaped,
    ]  # fmt: skip
    assert HOSTILE not in page.text
    assert page.text.count('class="mark mark-log-') == 3  # on the timeline too
    logs = page.text.split('<h2 id="logs">', 1)[1]
    assert logs.count('<tr class="log ') == 3
    warn = client.get(f"/orders/{order}", params={"log_level": "warn"}).text.split('id="logs"')[1]
    assert warn.count('<tr class="log ') == 1 and "card check slow" in warn
    text = client.get(f"/orders/{order}", params={"log_q": "PLACED"}).text.split('id="logs"')[1]
    assert text.count('<tr class="log ') == 1 and f"order {order} placed" in text
    assert client.get(f"/orders/{order}", params={"log_level": "loud"}).status_code == 400


def test_the_logs_page_filters_pages_and_links(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    order, trace = _order(client, project, database)
    noise = [entry("catalog", "", uuid.uuid4().hex, "debug", f"noise {i}", 4 + i) for i in range(3)]
    assert post(client, project, envelope(item("log", noise))).status_code == 200

    def rows(**params: str) -> list[str]:
        page = client.get("/logs", params=params)
        assert page.status_code == 200, page.text
        return re.findall(r'<td class="body">([^<]*)<', page.text)

    assert rows()[:2] == ["noise 2", "noise 1"]  # newest first
    assert len(rows(order_id=order)) == 3
    assert rows(trace_id=trace.upper(), level="warn") == ["card check slow"]
    assert rows(service="shipping") == ["&lt;script&gt;alert(&#39;log&#39;)&lt;/script&gt;"]
    assert rows(q="placed", release="1.0.0") == [f"order {order} placed"]
    assert rows(since="2999-01-01T00:00") == []
    assert len(rows(until="2999-01-01T00:00")) == 6
    first = client.get("/logs", params={"limit": "4"}).text
    assert first.count('<td class="body">') == 4
    [older] = re.findall(r'href="(/logs\?[^"]*cursor=\d+[^"]*)" rel="next"', first)
    second = client.get(older.replace("&amp;", "&")).text
    assert second.count('<td class="body">') == 2 and 'rel="next"' not in second
    bad = client.get("/logs", params={"level": "loud"})
    assert bad.status_code == 400 and "level must be one of" in bad.text
    assert 'href="/logs"' in client.get("/").text  # in the nav


def test_a_new_log_entry_moves_the_live_mark(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    """The log tail rides on the pages' live updates: `/live` says `changed` when the mark
    moves, and an info entry (no event, no correlation) must move it."""
    with database.sessions() as session:
        before = change_mark(session)
    body = envelope(item("log", [log(body="tail me")]))
    assert post(client, project, body).status_code == 200
    with database.sessions() as session:
        after = change_mark(session)
    assert after[:2] == before[:2] and after[2] > before[2]
    page = client.get("/logs")
    assert 'data-live="/live"' in page.text and "tail me" in page.text
