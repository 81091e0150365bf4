"""`sentrail rules suggest`, `sentrail rules check` and the re-extraction of `correlate
--rebuild`, on a second system that is not the ACME shop: a booking site whose services are
web, billing and fulfilment and whose key is `booking_ref`, carried in tags by web, in `extra`
by billing and in breadcrumbs by fulfilment. Its events are stored through the real ingest path
under the default (ACME) rules, so none of them has a key until the rules change."""

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from bench import webhook_payloads as sp
from collector.settings import CollectorSettings
from rules.config import current_rules, load_rules
from sentrail.cli import app
from sentrail.rekey import rekey
from sentrail.settings import Role
from sentrail.stored import stored_pages
from store.engine import Database
from store.models import CorrelationKey, Event, Journey, JourneyEvent
from tests.collector.envelopes import envelope_bytes, event
from tests.conftest import ProjectKey
from tests.correlator.shop_events import at

runner = CliRunner()
REFS = [f"BK-{100200 + i}" for i in range(6)]
INVOICES = [f"INV-{5000 + i}" for i in range(6)]

BOOKING_RULES = """
[[keys]]
name = "booking_ref"
tags = ["booking_ref"]
extra = ["booking_ref"]
breadcrumb_data = ["booking_ref"]

[[flows]]
name = "booking"
key = "booking_ref"
hops = [
    { service = "web", name = "booked" },
    { service = "billing", name = "charged" },
    { service = "fulfilment", name = "ticket issued" },
]
"""


@pytest.fixture
def app_roles() -> frozenset[Role]:
    """No correlator in the app: the commands under test run it."""
    return frozenset({"collector", "dashboard"})


@pytest.fixture
def collector_settings() -> CollectorSettings:
    return CollectorSettings(sentry_client_secret="webhook-secret")


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("SENTRAIL_DATABASE_URL", database_url)
    current_rules.cache_clear()
    yield database_url
    current_rules.cache_clear()


def _traced(service: str, seconds: float, trace: str | None, **fields: Any) -> dict[str, Any]:
    contexts = {"trace": {"trace_id": trace, "span_id": uuid.uuid4().hex[:16]}} if trace else {}
    fields.setdefault("level", "info")
    return event(server_name=service, timestamp=at(seconds), contexts=contexts, **fields)


def booking_events() -> list[dict[str, Any]]:
    """24 events: 6 bookings of 3 keyed events each (bookings 4 and 5 share one trace, a batch
    job), a keyless billing warning on the traces of bookings 0-3, a keyless event on the
    shared trace (ambiguous) and one with no trace at all. Booking 0's billing event carries a
    stale reference in `extra` beside its tag (its carriers disagree)."""
    traces = [uuid.uuid4().hex for _ in range(4)]
    shared = uuid.uuid4().hex
    traces += [shared, shared]
    events = []
    for i, (ref, invoice, trace) in enumerate(zip(REFS, INVOICES, traces, strict=True)):
        t0 = i * 10
        web_tags = {"booking_ref": ref, "browser": "Chrome 120", "http.status": "200"}
        events.append(
            _traced(
                "web",
                t0,
                trace,
                message="booking created",
                tags={**web_tags, "user_id": f"user-{4000 + i}"},
            )
        )
        billing: dict[str, Any] = {"booking_ref": ref, "invoice": invoice, "amount": 12.5}
        tags = {}
        if i == 0:
            billing["booking_ref"], tags = "BK-999999", {"booking_ref": ref}
        events.append(
            _traced("billing", t0 + 1, trace, message="charge captured", extra=billing, tags=tags)
        )
        crumb = {"category": "queue", "data": {"booking_ref": ref, "invoice": invoice, "try": 1}}
        events.append(
            _traced("fulfilment", t0 + 2, trace, message="ticket issued", breadcrumbs=[crumb])
        )
        if i < 4:
            events.append(
                _traced("billing", t0 + 3, trace, message="card network slow", level="warning")
            )
    events.append(_traced("billing", 100, shared, message="batch settlement", level="warning"))
    events.append(_traced("web", 101, None, message="healthcheck"))
    return events


@pytest.fixture
def stored(client: TestClient, project: ProjectKey) -> list[dict[str, Any]]:
    events = booking_events()
    for sent in events:
        answer = client.post(
            f"/api/{project.id}/envelope/", content=envelope_bytes(sent), headers=project.auth
        )
        assert answer.status_code == 200, answer.text
    return events


def test_suggest_finds_the_booking_reference(
    cli_env: str, stored: list[dict[str, Any]], tmp_path: Path
) -> None:
    result = runner.invoke(app, ["rules", "suggest"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "suggested.toml"
    path.write_text(result.output)
    rules = load_rules(path)  # valid rules, as SENTRAIL_CORRELATION_CONFIG would read them
    (flow,) = rules.flows
    assert (flow.name, flow.key) == ("booking_ref", "booking_ref")
    assert [key.name for key in rules.keys] == ["booking_ref", "invoice"]
    booking = rules.keys[0]
    assert booking.tags == ["booking_ref"]
    assert booking.extra == ["booking_ref"]
    assert booking.breadcrumb_data == ["booking_ref"]
    invoice = rules.keys[1]
    assert (invoice.extra, invoice.breadcrumb_data, invoice.tags) == (["invoice"], ["invoice"], [])
    assert [hop.service for hop in flow.hops] == ["web", "billing", "fulfilment"]
    assert "from the newest 24 of 24 stored events" in result.output
    # Noise on one service only, or not like identifiers, is not proposed.
    for noise in ("user_id", "browser", "http.status", "amount", "try"):
        assert f'"{noise}"' not in result.output


def test_suggest_with_nothing_stored_says_so(cli_env: str) -> None:
    result = runner.invoke(app, ["rules", "suggest"])
    assert result.exit_code == 2
    assert "no events are stored" in result.output


def test_check_counts_exactly(cli_env: str, stored: list[dict[str, Any]], tmp_path: Path) -> None:
    path = tmp_path / "booking.toml"
    path.write_text(BOOKING_RULES)
    result = runner.invoke(app, ["rules", "check", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.output)
    assert report["events"] == 24 and report["unreadable"] == 0
    (key,) = report["keys"]
    assert key == {
        "name": "booking_ref",
        "flow": "booking",
        "events": 18,
        "distinct_values": 6,
        "carriers": {"breadcrumb:booking_ref": 6, "tag:booking_ref": 7, "extra:booking_ref": 5},
        "overruled": 1,
        "services": {"web": 6, "billing": 6, "fulfilment": 6},
    }
    assert report["flows"] == {"booking": "booking_ref"}
    assert (report["journeys"], report["keyless_events"]) == ({"booking": 6}, 6)
    assert (report["joined"], report["ambiguous"], report["in_no_journey"]) == (4, 1, 1)
    text = runner.invoke(app, ["rules", "check", str(path)])
    assert text.exit_code == 0, text.output
    assert "key booking_ref (key of flow booking): 18 events (75.0%), 6 distinct values" in (
        text.output
    )
    assert "journeys of flow booking: 6" in text.output
    assert "1 ambiguous" in text.output


def test_check_refuses_invalid_rules_with_exit_2(cli_env: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BOOKING_RULES.replace('key = "booking_ref"', 'key = "order"'))
    result = runner.invoke(app, ["rules", "check", str(path)])
    assert result.exit_code == 2
    assert "flow 'booking': key 'order' is not one of the [[keys]]" in result.output
    path.write_text("[[keys]\nname=")
    result = runner.invoke(app, ["rules", "check", str(path)])
    assert result.exit_code == 2 and "not valid TOML" in result.output
    result = runner.invoke(app, ["rules", "check", str(tmp_path / "missing.toml")])
    assert result.exit_code == 2 and "cannot read" in result.output


def _journeys(database_url: str) -> tuple[set[str], int]:
    database = Database()
    with database.sessions() as session:
        keys = set(session.scalars(select(Journey.key)))
        members = session.scalar(select(func.count()).select_from(JourneyEvent)) or 0
    database.dispose()
    return keys, members


def test_rebuild_re_extracts_keys_under_new_rules(
    cli_env: str,
    stored: list[dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = runner.invoke(app, ["correlate", "--rebuild"])
    assert before.exit_code == 0, before.output
    assert "24 events read, 0 changed keys" in before.output
    assert _journeys(cli_env) == (set(), 0)

    database = Database()  # one payload that cannot be read keeps the keys it has
    with database.sessions.begin() as session:
        unreadable = session.scalars(
            select(Event.id).where(Event.service == "fulfilment").order_by(Event.id)
        ).first()
        session.execute(update(Event).where(Event.id == unreadable).values(payload=b"junk"))
    database.dispose()

    path = tmp_path / "booking.toml"
    path.write_text(BOOKING_RULES)
    monkeypatch.setenv("SENTRAIL_CORRELATION_CONFIG", str(path))
    current_rules.cache_clear()
    kept = runner.invoke(app, ["correlate", "--rebuild", "--no-rekey"])
    assert kept.exit_code == 0 and "re-extracted" not in kept.output
    assert _journeys(cli_env) == (set(), 0)  # the keys are still those of the old rules
    after = runner.invoke(app, ["correlate", "--rebuild"])
    assert after.exit_code == 0, after.output
    assert "24 events read, 17 changed keys; 1 unreadable kept theirs" in after.output
    keys, members = _journeys(cli_env)
    assert keys == set(REFS)
    # The keyed events, and the keyless ones their trace joins (the unreadable one among them).
    assert members == 17 + 4 + 1
    database = Database()
    with database.sessions() as session:
        carriers = dict(
            session.execute(
                select(CorrelationKey.carrier, func.count()).group_by(CorrelationKey.carrier)
            ).all()
        )
    database.dispose()
    assert carriers == {"tag:booking_ref": 7, "extra:booking_ref": 5, "breadcrumb:booking_ref": 5}

    again = runner.invoke(app, ["correlate", "--rebuild"])
    assert "24 events read, 0 changed keys" in again.output
    assert _journeys(cli_env) == (keys, members)


def _key_rows(database: Database) -> list[tuple[Any, ...]]:
    with database.sessions() as session:
        return sorted(
            tuple(row)
            for row in session.execute(
                select(
                    Event.source,
                    CorrelationKey.name,
                    CorrelationKey.value,
                    CorrelationKey.carrier,
                    CorrelationKey.overruled,
                ).join(Event, Event.id == CorrelationKey.event_row_id)
            )
        )


def test_re_extraction_reproduces_ingest_for_sdk_and_webhook_events(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    """A webhook event's stored payload is the event object of the delivery (tags as pairs,
    breadcrumbs under `values`): read again, it gives the keys ingest gave."""
    sdk = event(tags={"order_id": sp.ORDER}, message=f"order {sp.ORDER} paid", extra={"x": 1})
    answer = client.post(
        f"/api/{project.id}/envelope/", content=envelope_bytes(sdk), headers=project.auth
    )
    assert answer.status_code == 200
    body, headers = sp.signed(
        sp.envelope("created", {"error": sp.event()}), "error", "webhook-secret"
    )
    assert client.post("/webhooks/sentry", content=body, headers=headers).status_code == 200
    at_ingest = _key_rows(database)
    assert [row[:4] for row in at_ingest] == [
        ("sdk", "order_id", sp.ORDER, "tag:order_id"),
        ("webhook", "order_id", sp.ORDER, "tag:order_id"),
    ]
    with database.sessions.begin() as session:
        session.execute(CorrelationKey.__table__.delete())
    result = rekey(database, current_rules(), page_size=1)
    assert (result.events, result.changed, result.unreadable) == (2, 2, 0)
    assert _key_rows(database) == at_ingest


def test_stored_pages_walk_every_event_once_in_keyset_pages(
    stored: list[dict[str, Any]], database: Database
) -> None:
    pages = list(stored_pages(database, page_size=5))
    ids = [e.id for page in pages for e in page]
    assert [len(page) for page in pages] == [5, 5, 5, 5, 4]
    assert ids == sorted(ids) and len(set(ids)) == 24
    newest = [e.id for page in stored_pages(database, newest=7, page_size=3) for e in page]
    assert newest == sorted(ids, reverse=True)[:7]
    assert all(e.payload is not None for page in pages for e in page)
