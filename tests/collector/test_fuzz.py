"""Property-based fuzzing of every parser on the ingest path: whatever arrives, the answer is a
value or a clear 4xx (a SentrailError), never another exception. The envelope parser, the
store body, normalisation, the scrubber and the webhook reader take 500 structured inputs each
(`SENTRAIL_TEST_FUZZ_EXAMPLES` raises it); tests/collector/test_mutation_fuzz.py gives each parser
10,000 mutants of real payloads (README, Reliability: Fuzzing)."""

import base64
import os
import zlib

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.normalize import normalize_event, normalize_tags
from collector.parsers import parse_envelope, parse_store_body
from collector.scrub import Scrubber
from collector.sessions import from_aggregates, from_session
from collector.timestamps import parse_timestamp
from collector.webhooks import _comment, _issue
from rules.config import current_rules
from rules.extract import KeyExtractor
from store.errors import SentrailError
from tests.collector.readers import NOW, READER, read_webhook

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


FUZZ = settings(
    max_examples=int(os.environ.get("SENTRAIL_TEST_FUZZ_EXAMPLES", "500")),
    deadline=None,
    database=None,
)
SCRUBBER = Scrubber()


@FUZZ
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


@FUZZ
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


item_lines = st.one_of(
    st.sampled_from(
        [b'{"type":"event"}', b'{"type":"session"}', b'{"type":"client_report"}', b'{"type":1}']
    ),
    st.builds(
        lambda kind, length: orjson.dumps({"type": kind, "length": length}),
        st.sampled_from(["event", "transaction", "sessions", "attachment", "x"]),
        st.integers(-2, 40) | st.none(),
    ),
    st.binary(max_size=20),
)
envelopes = st.builds(
    lambda header, parts: b"\n".join([header, *parts]),
    st.sampled_from([b"{}", b'{"event_id":"0"}', b"", b"[]"]) | st.binary(max_size=10),
    st.lists(item_lines | events.map(orjson.dumps) | st.binary(max_size=40), max_size=6),
)


@FUZZ
@given(envelopes)
def test_envelope_parser_and_items(body: bytes) -> None:
    try:
        envelope = parse_envelope(body)
        READER.envelope(1, envelope, NOW)
    except SentrailError as exc:
        assert exc.status_code in (400, 413)


@FUZZ
@given(json_values)
def test_scrubber_takes_any_value(value: object) -> None:
    scrubbed = SCRUBBER.value(value)
    orjson.dumps(scrubbed)
    assert SCRUBBER.value(scrubbed) == scrubbed  # scrubbing twice changes nothing more


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["action", "data", "installation", "actor"]),
        st.dictionaries(
            st.sampled_from(["issue", "error", "event", "comment_id", "issue_id", "comment"]),
            json_values | events,
            max_size=4,
        )
        | json_values,
        max_size=4,
    ).map(orjson.dumps)
    | st.binary(max_size=200),
    st.sampled_from(["issue", "error", "event_alert", "comment", "x"]),
)
def test_webhook_reader(body: bytes, resource: str) -> None:
    """The webhook reader, short of the database (tests/collector/readers.py)."""
    try:
        read_webhook(body)
    except SentrailError as exc:
        assert exc.status_code == 400
