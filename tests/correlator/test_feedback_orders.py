"""Feedback joined to orders by the correlator's journeys: by the key it carries itself, by
the event it is about, or by its trace; listed per order by the API and shown, escaped, on the
order page."""

import uuid
from typing import Any

from fastapi.testclient import TestClient

from correlator.worker import Correlator
from store.engine import Database
from tests.collector.user_items import (
    attachment_item,
    envelope_with,
    feedback_event,
    json_item,
    user_report,
)
from tests.conftest import ProjectKey, make_project
from tests.correlator.shop_events import Shop


def send_feedback(client: TestClient, project: ProjectKey, kind: str, value: Any) -> None:
    body = envelope_with(json_item(kind, value))
    response = client.post(f"/api/{project.id}/envelope/", content=body, headers=project.auth)
    assert response.status_code == 200, response.text


def failed_order(shop: Shop) -> tuple[str, str, dict[str, Any]]:
    """An order whose payment failed: (order, trace, the error event)."""
    order, trace = str(uuid.uuid4()), uuid.uuid4().hex
    shop.checkout(order, trace, upto="order")
    error = shop.message(
        "payment", 1, trace, f"card declined for order [{order}]", "error", tags={"order_id": order}
    )
    shop.send(error)
    return order, trace, error


def messages(client: TestClient, order: str) -> set[str]:
    found = client.get("/api/v1/feedback", params={"order_id": order}).json()["feedback"]
    assert all(f["order_id"] == order for f in found)
    return {f["message"] for f in found}


def test_feedback_joins_the_order_of_its_key_its_event_or_its_trace(
    client: TestClient, project: ProjectKey, shop: Shop, database: Database
) -> None:
    a, a_trace, a_error = failed_order(shop)
    b, b_trace, b_error = failed_order(shop)
    about_a = feedback_event("about A's error", associated_event_id=a_error["event_id"])
    on_a_trace = feedback_event("on A's trace", trace_id=a_trace)
    own_key = feedback_event(
        "says B", associated_event_id=a_error["event_id"], tags={"order_id": b}
    )
    nowhere = feedback_event("about nothing we know")
    for said in (about_a, on_a_trace, own_key, nowhere):
        send_feedback(client, project, "feedback", said)
    send_feedback(client, project, "user_report", user_report(b_error["event_id"], "report on B"))
    Correlator(database).run_until_idle()

    assert messages(client, a) == {"about A's error", "on A's trace"}
    assert messages(client, b) == {"says B", "report on B"}
    listed = client.get("/api/v1/feedback").json()["feedback"]
    assert len(listed) == 5
    by_message = {f["message"]: f for f in listed}
    assert by_message["about nothing we know"]["order_id"] is None
    assert by_message["about A's error"]["trace_id"] != a_trace  # its own trace, reported as sent
    assert by_message["report on B"]["trace_id"] == b_trace  # from the event it is about
    assert listed[0]["message"] == "report on B"  # newest first


def test_the_order_page_shows_what_the_customer_said_escaped(
    client: TestClient, project: ProjectKey, shop: Shop, database: Database
) -> None:
    order, _, error = failed_order(shop)
    said = feedback_event(
        "<script>alert('x')</script> I was charged twice",
        associated_event_id=error["event_id"],
    )
    said["contexts"]["feedback"]["name"] = "<b>Jane</b>"
    send_feedback(client, project, "feedback", said)
    Correlator(database).run_until_idle()
    page = client.get(f"/orders/{order}")
    assert page.status_code == 200
    assert "What the customer said (1)" in page.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; I was charged twice" in page.text
    assert "&lt;b&gt;Jane&lt;/b&gt;" in page.text and "<b>Jane</b>" not in page.text
    assert f'href="#event-{error["event_id"]}"' in page.text


def test_feedback_through_another_project_finds_the_order_of_its_event(
    client: TestClient, project: ProjectKey, shop: Shop, database: Database
) -> None:
    """One project per service: the widget's project is not the failing service's."""
    widget = make_project(database, "frontend")  # before the first request loads the keys
    order, _, error = failed_order(shop)
    said = feedback_event("the page froze", associated_event_id=error["event_id"])
    send_feedback(client, widget, "feedback", said)
    Correlator(database).run_until_idle()
    assert messages(client, order) == {"the page froze"}


def test_the_order_and_trace_pages_link_attachments_as_downloads(
    client: TestClient, project: ProjectKey, shop: Shop, database: Database
) -> None:
    order, trace = str(uuid.uuid4()), uuid.uuid4().hex
    shop.checkout(order, trace, upto="order")
    error = shop.message("payment", 1, trace, "declined", "error", tags={"order_id": order})
    name = '"><script>alert(1)</script>../x.html'
    body = envelope_with(attachment_item(b"<html>boom</html>", name, "text/html"), event=error)
    sent = client.post(f"/api/{project.id}/envelope/", content=body, headers=project.auth)
    assert sent.status_code == 200, sent.text
    Correlator(database).run_until_idle()
    for path in (f"/orders/{order}", f"/traces/{trace}"):
        page = client.get(path).text
        assert "<script>alert(1)" not in page
        assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;../x.html" in page
        href = page.split('class="attachments">Attachments: <a href="', 1)[1].split('"', 1)[0]
        got = client.get(href)
        assert got.content == b"<html>boom</html>"
        assert got.headers["content-type"] == "application/octet-stream"
