import base64
import zlib

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sentry_sdk.envelope import Envelope as SdkEnvelope
from sentry_sdk.envelope import Item as SdkItem
from sentry_sdk.envelope import PayloadRef

from collector.parsers import parse_envelope, parse_json_object, parse_store_body
from store.errors import BadRequest, PayloadTooLarge, SentrailError


def sdk_envelope_bytes() -> bytes:
    """An envelope serialised by sentry-python's own Envelope class."""
    envelope = SdkEnvelope(headers={"event_id": "a" * 32, "sent_at": "2026-01-01T00:00:00Z"})
    envelope.add_event({"event_id": "a" * 32, "message": "hi\nthere"})
    envelope.add_item(
        SdkItem(payload=PayloadRef(bytes=b"\x00\x01\n\n\x02"), type="attachment", filename="a.bin")
    )
    envelope.add_session({"sid": "s", "status": "ok", "attrs": {"release": "r"}})  # type: ignore[arg-type]
    return envelope.serialize()


def test_parses_what_sentry_python_serialises() -> None:
    envelope = parse_envelope(sdk_envelope_bytes())
    assert envelope.headers["event_id"] == "a" * 32
    assert [item.type for item in envelope.items] == ["event", "attachment", "session"]
    assert orjson.loads(envelope.items[0].payload)["message"] == "hi\nthere"
    assert envelope.items[1].payload == b"\x00\x01\n\n\x02"  # length-delimited, newlines kept


def test_items_without_length_run_to_the_next_newline() -> None:
    body = b'{}\n{"type":"event"}\n{"message":"a"}\n{"type":"client_report"}\n{"x":1}'
    envelope = parse_envelope(body)
    assert [i.payload for i in envelope.items] == [b'{"message":"a"}', b'{"x":1}']


def test_carriage_return_belongs_to_the_payload() -> None:
    envelope = parse_envelope(b'{}\n{"type":"attachment","length":3}\na\r\n\n')
    assert envelope.items[0].payload == b"a\r\n"


def test_header_only_envelope_has_no_items() -> None:
    assert parse_envelope(b'{"event_id":"' + b"b" * 32 + b'"}').items == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty envelope"),
        (b"not json\n", "envelope header is not valid JSON"),
        (b"[]\n", "envelope header must be a JSON object"),
        (b'{}\n{"length":2}\nab', "without a type"),
        (b'{}\n{"type":"event","length":100}\n{}', "past the end"),
        (b'{}\n{"type":"event","length":2}\n{}x', "not followed by a newline"),
        (b'{}\n{"type":"event","length":-1}\n{}', "non-negative"),
        (b'{}\n{"type":"event","length":"2"}\n{}', "non-negative"),
        (b'{}\n{"type": 5}\n{}', "without a type"),
        (b"{}\n\xff\xfe\n", "not valid JSON"),
    ],
)
def test_malformed_envelopes_are_refused(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        parse_envelope(body)


def test_deeply_nested_json_is_refused() -> None:
    with pytest.raises(BadRequest):
        parse_json_object(b"[" * 5000 + b"]" * 5000, "event")


def test_store_body_forms() -> None:
    event = {"message": "hello"}
    raw = orjson.dumps(event)
    assert parse_store_body(raw, 10_000) == (event, raw)
    assert parse_store_body(base64.b64encode(raw), 10_000)[0] == event
    assert parse_store_body(base64.b64encode(zlib.compress(raw)), 10_000)[0] == event
    with pytest.raises(PayloadTooLarge):
        parse_store_body(base64.b64encode(zlib.compress(b'{"a":"' + b"x" * 50_000 + b'"}')), 1000)
    with pytest.raises(BadRequest):
        parse_store_body(b"%%%", 10_000)
    with pytest.raises(BadRequest):
        parse_store_body(b'"just a string"', 10_000)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_parse_or_give_a_clear_400(body: bytes) -> None:
    try:
        envelope = parse_envelope(body)
    except SentrailError as exc:
        assert exc.status_code == 400
        return
    for item in envelope.items:
        assert isinstance(item.headers["type"], str)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.text(max_size=10), json_values, max_size=4),
    st.lists(
        st.tuples(
            st.sampled_from(["event", "session", "attachment", "x"]),
            st.binary(max_size=60),
            st.booleans(),
        ),
        max_size=5,
    ),
)
def test_well_formed_envelopes_round_trip(
    header: dict[str, object], items: list[tuple[str, bytes, bool]]
) -> None:
    body = orjson.dumps(header) + b"\n"
    for kind, payload, with_length in items:
        if with_length:
            body += orjson.dumps({"type": kind, "length": len(payload)}) + b"\n" + payload + b"\n"
        else:
            line = payload.replace(b"\n", b" ")
            body += orjson.dumps({"type": kind}) + b"\n" + line + b"\n"
    envelope = parse_envelope(body)
    assert envelope.headers == header
    assert [i.type for i in envelope.items] == [kind for kind, _, _ in items]
    for item, (_, payload, with_length) in zip(envelope.items, items, strict=True):
        assert item.payload == (payload if with_length else payload.replace(b"\n", b" "))
