"""Property-based fuzzing of the feedback, user report and attachment items: whatever they
hold, the envelope is read (a bad item becomes an outcome) or refused with a clear 4xx, never
another exception, and every row it yields fits its columns."""

import orjson
from hypothesis import given
from hypothesis import strategies as st

from collector.limits import MAX_ATTACHMENT_FILENAME, MAX_FEEDBACK_MESSAGE
from collector.parsers import parse_envelope
from store.errors import SentrailError
from tests.collector.readers import NOW, READER
from tests.collector.test_fuzz import FUZZ, events, json_values

FEEDBACK_KEYS = ["message", "contact_email", "name", "url", "associated_event_id"]
said = st.dictionaries(st.sampled_from(FEEDBACK_KEYS) | st.text(max_size=8), json_values)
feedback_events = (
    st.builds(lambda event, context: {**event, "contexts": {"feedback": context}}, events, said)
    | events
)
reports = st.dictionaries(
    st.sampled_from(["event_id", "name", "email", "comments"]) | st.text(max_size=8), json_values
)
header_values = json_values | st.text(max_size=300)
attachment_headers = st.fixed_dictionaries(
    {"type": st.just("attachment")},
    optional={
        "filename": header_values,
        "content_type": header_values | st.sampled_from(["text/plain", "application/json"]),
        "attachment_type": header_values,
    },
)


def item(headers: dict[str, object], payload: bytes) -> bytes:
    return orjson.dumps({**headers, "length": len(payload)}) + b"\n" + payload


items = st.one_of(
    st.builds(lambda e: item({"type": "feedback"}, orjson.dumps(e)), feedback_events),
    st.builds(lambda r: item({"type": "user_report"}, orjson.dumps(r)), reports),
    st.builds(
        lambda kind, b: item({"type": kind}, b),
        st.sampled_from(["feedback", "user_report"]),
        st.binary(max_size=40),
    ),
    st.builds(item, attachment_headers, st.binary(max_size=60) | json_values.map(orjson.dumps)),
)
envelopes = st.builds(
    lambda header, parts: b"\n".join([header, *parts]),
    st.sampled_from([b"{}", b'{"event_id":"0"}', b'{"event_id":"' + b"a" * 32 + b'"}']),
    st.lists(items, max_size=5),
)


@FUZZ
@given(envelopes)
def test_user_items_are_read_or_refused_clearly(body: bytes) -> None:
    try:
        batch = READER.envelope(1, parse_envelope(body), NOW)
    except SentrailError as exc:
        assert exc.status_code in (400, 413)
        return
    for row in batch.feedback:
        assert 0 < len(row.message) <= MAX_FEEDBACK_MESSAGE and "\x00" not in row.message
        assert len(row.event_id) == 32
    for attachment in batch.attachments:
        assert 0 < len(attachment.filename) <= MAX_ATTACHMENT_FILENAME
        assert "\x00" not in attachment.filename + attachment.content_type
