"""The trace page's waterfall: the span tree in order, bars to scale, orphans at the root,
error events and log entries marked on their span, hostile names as text, the row cap; and
the tree builder's bounds (no recursion, every span once, cycles included)."""

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dashboard import waterfall
from reads.schemas import SpanRow
from tests.collector.envelopes import envelope_bytes, event
from tests.collector.telemetry_payloads import envelope, item, log
from tests.collector.test_endpoints import post
from tests.conftest import ProjectKey

T0 = 1764237600.0  # 2025-11-27T10:00:00Z
HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>"


def span(span_id: str, parent: str | None, start_ms: float, end_ms: float, **extra: Any) -> Any:
    trace_id, name = extra.pop("trace_id"), extra.pop("name", span_id)
    service, t0 = extra.pop("service", "order"), extra.pop("t0", T0)
    return {
        "trace_id": trace_id, "span_id": span_id, "parent_span_id": parent, "name": name,
        "status": extra.pop("status", "ok"), "is_segment": parent is None,
        "start_timestamp": t0 + start_ms / 1000, "end_timestamp": t0 + end_ms / 1000,
        "attributes": {
            "sentry.op": {"value": extra.pop("op", "function"), "type": "string"},
            "server.address": {"value": service, "type": "string"},
        },
    }  # fmt: skip


def _trace(client: TestClient, project: ProjectKey) -> str:
    trace = uuid.uuid4().hex
    ids = {name: uuid.uuid4().hex[:16] for name in ("root", "a", "a1", "b", "orphan")}
    entries = [
        span(ids["root"], None, 0, 1000, trace_id=trace, name="POST /checkout", op="http.server"),
        span(ids["a"], ids["root"], 100, 600, trace_id=trace, name="charge", service="payment"),
        span(ids["a1"], ids["a"], 200, 300, trace_id=trace, name=HOSTILE, service="payment"),
        span(ids["b"], ids["root"], 600, 1000, trace_id=trace, name="ship", service="shipping"),
        span(ids["orphan"], "f" * 16, 500, 750, trace_id=trace, name="lost child"),
    ]
    error = event(
        contexts={"trace": {"trace_id": trace, "span_id": ids["a1"]}}, message="card declined"
    )
    logs = [
        log(trace_id=trace, span_id=ids["b"], body="label printed", timestamp=T0 + 0.7),
        log(trace_id=trace, span_id=ids["b"], body="sent", level="error", timestamp=T0 + 0.8),
    ]
    for body in (envelope(item("span", entries), item("log", logs)), envelope_bytes(error)):
        assert post(client, project, body).status_code == 200
    return trace


def _rows(html: str) -> list[str]:
    return re.findall(r'class="span-name" title="[^"]*">([^<]*)<', html)


def test_the_trace_page_draws_the_span_tree_to_scale(
    client: TestClient, project: ProjectKey
) -> None:
    trace = _trace(client, project)
    page = client.get(f"/traces/{trace}")
    assert page.status_code == 200, page.text
    html = page.text
    escaped = "&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(2)&lt;/script&gt;"
    # depth first, children oldest first; the orphan (its parent never arrived) at the root
    assert _rows(html) == ["POST /checkout", "charge", escaped, "ship", "lost child"]
    assert HOSTILE not in html and "<script>alert" not in html
    bars = re.findall(r'<rect class="bar[^"]*" x="([\d.]+)%" width="([\d.]+)%"', html)
    assert bars == [("0.00", "100.00"), ("10.00", "50.00"), ("20.00", "10.00"),
                    ("60.00", "40.00"), ("50.00", "25.00")]  # fmt: skip
    assert html.count('<details class="subtree" open>') == 2  # the root and "charge"
    assert html.count("<details") == html.count("</details>")
    assert html.count('class="orphan"') == 1
    assert 'class="mark-errors"' in html and "1 error<" in html
    assert "2 logs</a>" in html and "mark-logs-error" in html
    assert "label printed" in html and "card declined" in html  # the logs and the event lists


def test_the_row_cap_says_so(
    client: TestClient, project: ProjectKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace = _trace(client, project)
    monkeypatch.setattr(waterfall, "MAX_ROWS", 3)
    html = client.get(f"/traces/{trace}").text
    assert len(_rows(html)) == 3
    assert "Showing the first 3 of 5 spans." in html
    assert html.count("<details") == html.count("</details>")


def test_a_trace_of_logs_alone_has_a_page(client: TestClient, project: ProjectKey) -> None:
    trace = uuid.uuid4().hex
    assert post(client, project, envelope(item("log", [log(trace_id=trace)]))).status_code == 200
    page = client.get(f"/traces/{trace}")
    assert page.status_code == 200 and "No spans for this trace." in page.text
    assert "User John has logged in!" in page.text
    found = client.get("/orders", params={"q": trace}, follow_redirects=False)
    assert found.headers["location"] == f"/traces/{trace}"  # the search box finds it
    assert client.get(f"/traces/{uuid.uuid4().hex}").status_code == 404


def _summary(span_id: str, parent: str | None, at: int = 0) -> SpanRow:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(milliseconds=at)
    return SpanRow(
        span_id=span_id, parent_span_id=parent, segment_id=None, is_segment=parent is None,
        service="s", op=None, name=span_id, start=start, end=start + timedelta(milliseconds=1),
        duration_ms=1.0, status=None, release=None, environment=None, error=False,
    )  # fmt: skip


def test_a_deep_chain_is_linear_and_nesting_is_capped() -> None:
    chain = [_summary("0", None)] + [_summary(str(i), str(i - 1), i) for i in range(1, 5000)]
    built = waterfall.build(chain, [], [])
    assert [r.span.span_id for r in built.rows] == [str(i) for i in range(waterfall.MAX_ROWS)]
    assert max(r.level for r in built.rows) == waterfall.MAX_NEST
    assert sum(r.opens for r in built.rows) == sum(r.closes for r in built.rows)
    assert built.cut == 5000 - waterfall.MAX_ROWS


def test_cycles_and_duplicates_are_drawn_once_each_as_orphans() -> None:
    spans = [_summary("a", "b"), _summary("b", "a", 1), _summary("c", "c", 2), _summary("a", None)]
    order = waterfall.tree_order(spans)
    assert [(s.span_id, depth, orphan) for s, depth, orphan in order] == [
        ("c", 0, True), ("a", 0, True), ("a", 0, True), ("b", 1, False),
    ]  # fmt: skip


def test_the_template_unpacks_the_rows_fields_in_their_order() -> None:
    """The template's loop names a row's fields by position (no lookup per field): a field
    added, removed or moved in `Row` must be so in the loop too."""
    source = (Path(waterfall.__file__).parent / "templates" / "waterfall.html").read_text()
    loop = re.search(r"{% for ([\w, ]+) in waterfall\.rows %}", source)
    assert loop is not None
    assert tuple(name.strip() for name in loop.group(1).split(",")) == waterfall.Row._fields


def test_every_text_a_row_writes_is_escaped() -> None:
    """Ids, names, services, ops, statuses and event titles are the sender's: each is written
    as text, whichever field it comes in (the page test covers a span's name end to end)."""
    from dashboard.pages.common import templates
    from store.models import Event

    quote = '"><img src=x onerror=alert(3)>'
    hostile = SpanRow(
        span_id=HOSTILE, parent_span_id=quote, segment_id=None, is_segment=False,
        service=HOSTILE, op=quote, name=quote, start=datetime(2026, 1, 1, tzinfo=UTC),
        end=datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC), duration_ms=1000.0, status=HOSTILE,
        release=None, environment=None, error=False,
    )  # fmt: skip
    error = Event(span_id=HOSTILE, type="error", level="error", event_id=quote, title=HOSTILE)
    built = waterfall.build([hostile], [error], [])
    html = templates.env.get_template("waterfall.html").render(waterfall=built, span_limit=5000)
    assert "<img" not in html and "<script" not in html
    assert html.count("&lt;script&gt;") == 4  # id, service, status, the event's title
    assert html.count("&#34;&gt;&lt;img") == 6  # parent, op, the name thrice, the event's id
    assert 'class="orphan"' in html and 'class="mark-errors"' in html
