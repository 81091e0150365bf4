import re
from datetime import UTC, datetime

import orjson
import pytest

from collector.normalize import HEX16, HEX32, normalize_event, normalize_tags
from collector.telemetry import hex_id
from collector.timestamps import event_time, parse_timestamp
from rules.config import current_rules
from rules.extract import KeyExtractor
from store.errors import BadRequest

RECEIVED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ORDER = "4f6b2a1c-3d5e-4f70-8a9b-0c1d2e3f4a5b"


def normalize(event: dict[str, object], kind: str = "event") -> object:
    return normalize_event(
        event,
        kind=kind,
        payload=orjson.dumps(event),
        received_at=RECEIVED,
        fallback_event_id=None,
        extractor=KeyExtractor(current_rules()),
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1764244800, datetime(2025, 11, 27, 12, 0, tzinfo=UTC)),
        (1764244800.5, datetime(2025, 11, 27, 12, 0, 0, 500000, tzinfo=UTC)),
        ("1764244800.5", datetime(2025, 11, 27, 12, 0, 0, 500000, tzinfo=UTC)),
        ("2025-11-27T12:00:00Z", datetime(2025, 11, 27, 12, 0, tzinfo=UTC)),
        ("2025-11-27T13:00:00+01:00", datetime(2025, 11, 27, 12, 0, tzinfo=UTC)),
        ("2025-11-27T12:00:00", datetime(2025, 11, 27, 12, 0, tzinfo=UTC)),
        ("not a date", None),
        (True, None),
        (float("nan"), None),
        (-5, None),
        ([], None),
    ],
)
def test_timestamps_become_utc(value: object, expected: datetime | None) -> None:
    parsed = parse_timestamp(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is UTC


def test_future_or_missing_timestamps_fall_back_to_receipt() -> None:
    assert event_time("2099-01-01T00:00:00Z", RECEIVED) == RECEIVED
    assert event_time(None, RECEIVED) == RECEIVED


def test_tags_as_object_or_pairs() -> None:
    assert normalize_tags({"a": 1, "b": True, "c": None}) == {"a": "1", "b": "true"}
    assert normalize_tags([["a", "x"], ["sentry:release", "r"], ["bad"]]) == {
        "a": "x",
        "release": "r",
    }
    assert normalize_tags({"k" * 300: "v" * 300}) == {"k" * 200: "v" * 200}


def test_exception_event_fields() -> None:
    event = {
        "event_id": "A" * 32,
        "platform": "python",
        "server_name": "payment",
        "tags": [["service", "payments-api"], ["order_id", ORDER]],
        "exception": {
            "values": [
                {"type": "KeyError", "value": "'card'"},
                {
                    "type": "ValueError",
                    "value": f"validation failed for order [{ORDER}] : bad\nmore",
                    "mechanism": {"type": "generic", "handled": False},
                    "stacktrace": {
                        "frames": [
                            {
                                "module": "shop.payment",
                                "function": "handle",
                                "in_app": True,
                                "context_line": "validate(card)",
                            },
                        ]
                    },
                },
            ]
        },
        "contexts": {"trace": {"trace_id": "B" * 32, "span_id": "c" * 16, "op": "queue"}},
    }
    result = normalize(event)
    row = result.row  # type: ignore[attr-defined]
    assert row["event_id"] == "a" * 32
    assert row["type"] == "error" and row["level"] == "error"
    assert row["service"] == "payments-api"  # the service tag wins over server_name
    assert row["title"] == f"ValueError: validation failed for order [{ORDER}] : bad"
    assert row["culprit"] == "shop.payment in handle"
    assert row["trace_id"] == "b" * 32 and row["op"] == "queue"
    assert row["handled"] is False
    assert [(k.name, k.value, k.carrier) for k in result.keys] == [  # type: ignore[attr-defined]
        ("order_id", ORDER, "tag:order_id")
    ]


def test_logentry_message_and_breadcrumb_keys() -> None:
    event = {
        "logentry": {"message": "paid %s", "params": ["order"]},
        "level": "warn",
        "breadcrumbs": [
            {
                "category": "CreditCardValidated",
                "data": {"OrderID": ORDER, "TransactionID": "t-9", "Amount": 5},
            }
        ],
    }
    result = normalize(event)
    row = result.row  # type: ignore[attr-defined]
    assert row["message"] == "paid order" and row["title"] == "paid order"
    assert row["level"] == "warning" and row["type"] == "default"
    assert [(k.name, k.value, k.carrier) for k in result.keys] == [  # type: ignore[attr-defined]
        ("order_id", ORDER, "breadcrumb:OrderID"),
        ("transaction_id", "t-9", "breadcrumb:TransactionID"),
    ]


def test_message_pattern_keys_and_ignored_values() -> None:
    result = normalize(
        {"message": f"order {ORDER} successfully delivered", "extra": {"TransactionID": "-1"}}
    )
    assert [(k.name, k.value) for k in result.keys] == [("order_id", ORDER)]  # type: ignore[attr-defined]


def test_transaction_keeps_trace_and_duration() -> None:
    result = normalize(
        {
            "type": "transaction",
            "transaction": "/order/add/{userid}",
            "start_timestamp": "2026-11-27T11:59:59.750Z",
            "timestamp": "2026-11-27T12:00:00Z",
            "contexts": {
                "trace": {
                    "trace_id": "d" * 32,
                    "span_id": "e" * 16,
                    "parent_span_id": "f" * 16,
                    "op": "http.server",
                }
            },
        },
        kind="transaction",
    )
    row = result.row  # type: ignore[attr-defined]
    assert row["type"] == "transaction" and row["level"] == "info"
    assert row["duration_ms"] == pytest.approx(250.0)
    assert (row["span_id"], row["parent_span_id"], row["op"]) == ("e" * 16, "f" * 16, "http.server")
    assert result.group is None  # type: ignore[attr-defined]


def test_bad_event_id_is_refused() -> None:
    with pytest.raises(BadRequest):
        normalize({"event_id": "nope"})


@pytest.mark.parametrize(
    ("mechanisms", "handled"),
    [
        ([{"type": "chained", "handled": False}, {"type": "generic", "handled": True}], False),
        ([{"type": "generic", "handled": True}, {"type": "generic", "handled": False}], False),
        ([{"type": "generic", "handled": True}, {"type": "generic", "handled": True}], True),
        ([{"type": "generic"}, None], None),
    ],
)
def test_an_event_is_unhandled_when_any_exception_of_its_chain_is(
    mechanisms: list[dict[str, object] | None], handled: bool | None
) -> None:
    """Sentry marks the event unhandled if any exception is, the inner cause included."""
    chain = [
        {"type": "ValueError", "value": f"step {i}", **({"mechanism": m} if m else {})}
        for i, m in enumerate(mechanisms)
    ]
    row = normalize({"exception": {"values": chain}}).row  # type: ignore[attr-defined]
    assert row["handled"] is handled


def test_a_synthetic_exception_is_titled_by_its_message_alone() -> None:
    """JS `captureMessage` with a stack sends a made-up `Error` whose frames are the SDK's:
    Sentry titles the event by the message and takes no culprit from those frames."""
    synthetic = {
        "type": "Error",
        "value": "order 42 could not be shipped",
        "mechanism": {"type": "generic", "synthetic": True, "handled": True},
        "stacktrace": {"frames": [{"module": "node_sdk", "in_app": True}]},
    }
    row = normalize({"exception": {"values": [synthetic]}, "transaction": "POST /ship"}).row  # type: ignore[attr-defined]
    assert row["title"] == "order 42 could not be shipped"
    assert row["culprit"] == "POST /ship"
    row = normalize({"exception": {"values": [synthetic]}}).row  # type: ignore[attr-defined]
    assert "node_sdk" not in row["culprit"]
    real = {**synthetic, "mechanism": {"type": "generic", "handled": True}}
    row = normalize({"exception": {"values": [real]}}).row  # type: ignore[attr-defined]
    assert row["title"] == "Error: order 42 could not be shipped"
    assert row["culprit"] == "node_sdk"


@pytest.mark.parametrize("pattern, size", [(HEX32, 32), (HEX16, 16)])
def test_an_id_with_a_final_newline_is_no_id(pattern: re.Pattern[str], size: int) -> None:
    """`$` would match before a final newline; the stored id would then be one character too
    long for its column (PostgreSQL refused the whole batch)."""
    good = "ab" * (size // 2)
    assert hex_id(good, pattern) == good
    assert hex_id(good + "\n", pattern) is None
    assert hex_id(good.upper(), pattern) == good
