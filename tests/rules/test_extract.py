"""Key precedence: what an event says about itself beats the breadcrumbs an SDK kept from earlier
work (docs/decisions.md#11)."""

import uuid
from typing import Any

import httpx
import sentry_sdk

from collector.normalize import fields_of
from rules.config import CorrelationRules, current_rules
from rules.extract import KeyExtractor
from tests.collector.envelopes import recording_sdk

EXTRACTOR = KeyExtractor(current_rules())


def keys_of(event: dict[str, Any]) -> list[tuple[str, str]]:
    return [(key.name, key.value) for key in EXTRACTOR.extract(fields_of(event))]


def crumb(order: str) -> dict[str, Any]:
    return {"category": "CreditCardValidated", "data": {"OrderID": order}}


def test_a_tag_beats_a_stale_breadcrumb() -> None:
    stale, own = str(uuid.uuid4()), str(uuid.uuid4())
    event = {"tags": {"order_id": own}, "breadcrumbs": [crumb(stale)], "message": "boom"}
    assert keys_of(event) == [("order_id", own)]


def test_the_message_beats_a_stale_breadcrumb() -> None:
    stale, own = str(uuid.uuid4()), str(uuid.uuid4())
    event = {"breadcrumbs": [crumb(stale)], "message": f"validation failed for order [{own}]"}
    assert keys_of(event) == [("order_id", own)]


def test_without_a_key_of_its_own_only_the_newest_breadcrumb_counts() -> None:
    older, newer = str(uuid.uuid4()), str(uuid.uuid4())
    event = {"breadcrumbs": [crumb(older), {"data": {"other": 1}}, crumb(newer)], "message": "x"}
    assert keys_of(event) == [("order_id", newer)]


def test_breadcrumbs_alone_still_carry_the_key() -> None:
    only = str(uuid.uuid4())
    assert keys_of({"breadcrumbs": [crumb(only)], "message": "x"}) == [("order_id", only)]


def test_a_worker_loop_without_request_scope_puts_each_error_in_its_own_order() -> None:
    """sentry-python keeps breadcrumbs for the life of a worker with no request scope: the error
    of a later order still carries every earlier order's breadcrumb."""
    orders = [str(uuid.uuid4()) for _ in range(6)]
    failing = set(orders[1::2])
    with recording_sdk(max_breadcrumbs=100) as transport:
        for order in orders:
            sentry_sdk.add_breadcrumb(category="CreditCardValidated", data={"OrderID": order})
            if order in failing:
                with sentry_sdk.new_scope() as scope:
                    scope.set_tag("order_id", order)
                    sentry_sdk.capture_message(f"validation failed for order [{order}] : bad")
    assert len(transport.events) == len(failing)
    for event in transport.events:
        assert len(event["breadcrumbs"]["values"]) > 1 or event["tags"]["order_id"] == orders[1]
        assert keys_of(event) == [("order_id", event["tags"]["order_id"])]
    assert {event["tags"]["order_id"] for event in transport.events} == failing


def test_an_sdk_in_the_test_process_leaves_httpx_unpatched() -> None:
    """Were httpx patched, the shop e2e's traffic would carry one trace for every order."""
    with recording_sdk():
        sentry_sdk.capture_message("x")
    for client in (httpx.Client, httpx.AsyncClient):
        assert "httpx" in client.send.__code__.co_filename, "patched by sentry_sdk"
        assert not hasattr(client.send, "__wrapped__")


def test_conflicting_carriers_pick_one_order_and_record_the_other() -> None:
    """A tag and the message disagree: the tag decides, the message is recorded as overruled,
    and the event carries one order, never both."""
    tagged, written = str(uuid.uuid4()), str(uuid.uuid4())
    event = {"tags": {"order_id": tagged}, "message": f"order {written} failed"}
    (key,) = EXTRACTOR.extract(fields_of(event))
    assert (key.name, key.value, key.carrier) == ("order_id", tagged, "tag:order_id")
    assert key.overruled == f"message={written}"


def test_each_key_names_its_carrier() -> None:
    order = str(uuid.uuid4())
    cases = {
        "tag:order": {"tags": [["order", order]]},
        "extra:OrderID": {"extra": {"OrderID": order}},
        "exception": {"exception": {"values": [{"type": "E", "value": f"order [{order}]"}]}},
        "transaction": {"transaction": f"order {order}"},
        "breadcrumb:orderNumber": {"breadcrumbs": [{"data": {"orderNumber": order}}]},
    }
    for carrier, event in cases.items():
        assert [(k.value, k.carrier) for k in EXTRACTOR.extract(fields_of(event))] == [
            (order, carrier)
        ], carrier


def test_context_paths_carry_keys_and_cannot_go_deeper_than_the_cap() -> None:
    rules = CorrelationRules.model_validate(
        {
            "keys": [{"name": "ref", "contexts": ["checkout.ref", "a.b.c.d.e.f.g.h.i"]}],
            "journey": {"key": "ref", "hops": [{"service": "s", "name": "n"}]},
        }
    )
    extractor = KeyExtractor(rules)
    event = {"contexts": {"checkout": {"ref": "R-1"}}}
    assert [(k.value, k.carrier) for k in extractor.extract(fields_of(event))] == [
        ("R-1", "context:checkout.ref")
    ]
    deep: dict[str, Any] = {"i": "too-deep"}
    for name in "hgfedcba":
        deep = {name: deep}
    assert extractor.extract(fields_of({"contexts": deep})) == []


def test_a_transaction_reads_only_the_breadcrumbs_left_since_it_began() -> None:
    """A worker's transaction for order B still carries A's breadcrumb, left before B's work
    began: the transaction has no key of its own then (it joins B through its trace)."""
    stale, own = str(uuid.uuid4()), str(uuid.uuid4())
    transaction = {
        "type": "transaction",
        "transaction": "process",
        "start_timestamp": 1_700_000_100.0,
        "timestamp": 1_700_000_101.0,
        "breadcrumbs": [{"timestamp": 1_700_000_050.0, "data": {"OrderID": stale}}],
    }
    assert keys_of(transaction) == []
    transaction["breadcrumbs"].append({"timestamp": 1_700_000_100.5, "data": {"OrderID": own}})
    assert keys_of(transaction) == [("order_id", own)]
    transaction["breadcrumbs"] = [{"data": {"OrderID": stale}}]  # no time: given the doubt
    assert keys_of(transaction) == [("order_id", stale)]
