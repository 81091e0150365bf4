"""The parts of `rules suggest` that need no database: what looks like an identifier, what is
read of a payload (capped), and rules files that load whatever the field names hold."""

import tomllib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rules.config import CorrelationRules
from sentrail.rules_suggest import (
    MAX_CRUMBS,
    MAX_ITEMS,
    Sample,
    looks_like_identifier,
    observations,
    propose,
    render,
)
from sentrail.stored import StoredEvent


@pytest.mark.parametrize(
    "value",
    [
        str(uuid.uuid4()),
        uuid.uuid4().hex,
        "0af7651916cd43dd",
        "ORD-123",
        "INV00042",
        "BK-7F3K2Q",
        "48213",
        "900000000000",
    ],
)
def test_identifiers(value: str) -> None:
    assert looks_like_identifier(value)


@pytest.mark.parametrize(
    "value",
    [
        "true",
        "error",
        "200",
        "Chrome 120",
        "https://shop.example/orders/ORD-123",
        "2026-11-27T10:00:00Z",
        "1764237600",  # epoch seconds
        "1764237600123",  # epoch milliseconds
        "12.5",
        "EUR",
        "checkout-page",
    ],
)
def test_not_identifiers(value: str) -> None:
    assert not looks_like_identifier(value)


def test_what_is_read_of_a_payload_is_capped() -> None:
    deep: dict[str, Any] = {"id": "ORD-1"}
    for _ in range(50):
        deep = {"next": deep}
    payload = {
        "tags": [[f"t{i}", "v"] for i in range(10_000)],
        "extra": {f"e{i}": i for i in range(10_000)},
        "contexts": {"trace": {"trace_id": "a" * 32}, "order": deep, "x" * 100: {"id": 1}},
        "breadcrumbs": {"values": [{"data": {f"b{i}": 1 for i in range(500)}}] * 1000},
    }
    seen = list(observations(payload))
    by_carrier = {c: sum(1 for carrier, _, _ in seen if carrier == c) for c, _, _ in seen}
    assert by_carrier == {
        "tags": MAX_ITEMS,
        "extra": MAX_ITEMS,
        "breadcrumb_data": MAX_ITEMS * MAX_CRUMBS,
    }
    assert not any(carrier == "contexts" for carrier, _, _ in seen)  # too deep, or too long


def _event(i: int, service: str, trace: str, payload: dict[str, Any], at: float) -> StoredEvent:
    when = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(seconds=at)
    return StoredEvent(i, service, trace, when, "sdk", payload)


def test_odd_field_and_service_names_still_make_a_valid_rules_file() -> None:
    sample = Sample()
    odd = 'ref "quoted"\\\x7f\u00e9'
    for n in range(20):
        trace, ref = uuid.uuid4().hex, f"R-{10_000 + n}"
        sample.add(_event(3 * n, "front\nend", trace, {"tags": {odd: ref}}, n))
        sample.add(_event(3 * n + 1, "bäck # end", trace, {"extra": {odd: ref}}, n + 0.5))
        sample.add(_event(3 * n + 2, "z", trace, {"contexts": {"ctx": {"order": {"id": ref}}}}, n))
    proposals = propose(sample)
    text = render(proposals, sample, stored=60)
    rules = CorrelationRules.model_validate(tomllib.loads(text))
    (key,) = rules.keys
    assert key.name == "ref_quoted"
    assert (key.tags, key.extra) == ([odd], [odd])
    # Another name, the same values: another spelling of the same key.
    assert key.contexts == ["ctx.order.id"]
    assert [hop.service for hop in rules.flows[0].hops] == ["front\nend", "z", "bäck # end"]
