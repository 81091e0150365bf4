"""Property-based fuzzing of every parser on the ingest path: whatever arrives, the answer is a
value or a clear 4xx (a SentrailError), never another exception."""

import base64
import zlib
from datetime import UTC, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.normalize import normalize_event, normalize_tags
from collector.parsers import parse_store_body
from collector.scrub import Scrubber
from collector.sessions import from_aggregates, from_session
from collector.timestamps import parse_timestamp
from collector.webhooks import _comment, _issue
from rules.config import current_rules
from rules.extract import KeyExtractor
from store.errors import SentrailError

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)
EVENT_KEYS = [
    "event_id",
    "timestamp",
    "level",
    "message",
    "logentry",
    "exception",
    "breadcrumbs",
    "tags",
    "contexts",
    "extra",
    "fingerprint",
    "release",
    "environment",
    "server_name",
    "transaction",
    "start_timestamp",
    "platform",
    "request",
    "user",
]
events = st.dictionaries(
    st.sampled_from(EVENT_KEYS) | st.text(max_size=8), json_values, max_size=12
)
EXTRACTOR = KeyExtractor(current_rules())
NOW = datetime(2026, 11, 27, tzinfo=UTC)


@settings(max_examples=400, deadline=None)
@given(events, st.sampled_from(["event", "transaction"]))
def test_normalize_takes_any_event(event: dict[str, object], kind: str) -> None:
    try:
        result = normalize_event(
            Scrubber().value(event),
            kind=kind,
            payload=b"{}",
            received_at=NOW,
            fallback_event_id=None,
            extractor=EXTRACTOR,
        )
    except SentrailError as exc:
        assert exc.status_code == 400
        return
    assert result.row["timestamp"].tzinfo is not None
    assert all("\x00" not in v for v in result.row.values() if isinstance(v, str))


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300)
    | events.map(orjson.dumps)
    | events.map(lambda e: base64.b64encode(zlib.compress(orjson.dumps(e))))
)
def test_store_body_parser(body: bytes) -> None:
    try:
        event, raw = parse_store_body(body, 10_000)
    except SentrailError as exc:
        assert exc.status_code in (400, 413)
        return
    assert isinstance(event, dict) and orjson.loads(raw) == event


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_timestamps_and_tags(value: object) -> None:
    parsed = parse_timestamp(value)
    assert parsed is None or parsed.tzinfo is not None
    tags = normalize_tags(value)
    assert all(isinstance(k, str) and isinstance(v, str) and len(v) <= 200 for k, v in tags.items())


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["attrs", "started", "status", "init", "did", "sid", "errors", "aggregates"]
        ),
        json_values,
        max_size=8,
    )
)
def test_session_items(item: dict[str, object]) -> None:
    from_session(item)
    from_aggregates(item)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            ["issue", "comment_id", "issue_id", "comment", "timestamp", "project_slug"]
        ),
        json_values,
        max_size=6,
    ),
    st.sampled_from(["created", "resolved", "assigned", "deleted", "x"]),
)
def test_webhook_bodies(data: dict[str, object], action: str) -> None:
    _issue(data, action, NOW)
    _comment(data, action, NOW, data.get("issue"))


def test_unicode_digits_are_not_numbers() -> None:
    """str.isdigit() accepts '¹', which int() refuses: every numeric check must be ASCII."""
    issue = _issue({"issue": {"id": "1", "count": "¹"}}, "created", NOW)
    assert issue is not None and issue.count == 0
