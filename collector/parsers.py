"""Envelope and store-body parsing (docs/protocol.md#envelopes). Pure functions over bytes."""

import base64
import binascii
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from collector.limits import bound_depth
from store.errors import BadRequest, PayloadTooLarge


@dataclass(frozen=True)
class Item:
    headers: dict[str, Any]
    payload: bytes

    @property
    def type(self) -> str:
        return str(self.headers["type"])


@dataclass(frozen=True)
class Envelope:
    headers: dict[str, Any]
    items: list[Item] = field(default_factory=list)


def parse_json_document(data: bytes, what: str) -> tuple[dict[str, Any], bytes]:
    """A JSON object and the raw text that holds exactly it: the one place where every
    document from outside is read, so the one place its depth is bounded (`collector.limits`:
    deeper levels are trimmed, and then the raw text is written anew). orjson refuses invalid
    UTF-8 and nesting deeper than 1024 (400)."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a JSON object")
    return bound_depth(value, data)


def parse_json_object(data: bytes, what: str) -> dict[str, Any]:
    """`parse_json_document` for callers that keep no raw text."""
    return parse_json_document(data, what)[0]


def parse_envelope(body: bytes) -> Envelope:
    """`Envelope = Header "\\n" { ItemHeader "\\n" Payload "\\n"? }`; only \\n ends a line."""
    if not body.strip():
        raise BadRequest("empty envelope")
    end = body.find(b"\n")
    end = len(body) if end < 0 else end
    headers = parse_json_object(body[:end], "envelope header")
    items: list[Item] = []
    pos = end + 1
    size = len(body)
    while pos < size:
        end = body.find(b"\n", pos)
        end = size if end < 0 else end
        line = body[pos:end]
        pos = end + 1
        if not line.strip():
            continue  # blank lines between items: tolerated
        item_headers = parse_json_object(line, "item header")
        if not isinstance(item_headers.get("type"), str) or not item_headers["type"]:
            raise BadRequest("item header without a type")
        length = item_headers.get("length")
        if length is None:
            end = body.find(b"\n", pos)
            end = size if end < 0 else end
            payload = body[pos:end] if pos <= size else b""
            pos = end + 1
        else:
            if not isinstance(length, int) or isinstance(length, bool) or length < 0:
                raise BadRequest("item length must be a non-negative integer")
            if pos + length > size:
                raise BadRequest("item length runs past the end of the envelope")
            payload = body[pos : pos + length]
            pos += length
            if pos < size and body[pos : pos + 1] != b"\n":
                raise BadRequest("item payload is not followed by a newline")
            pos += 1
        items.append(Item(item_headers, payload))
    return Envelope(headers, items)


def parse_store_body(body: bytes, limit: int) -> tuple[dict[str, Any], bytes]:
    """The deprecated store endpoint: plain JSON, base64 JSON, or base64 of zlib'd JSON.

    Returns the event and the JSON bytes it was read from.
    """
    stripped = body.strip()
    if not stripped:
        raise BadRequest("empty body")
    if stripped[:1] == b"{":
        return parse_json_document(stripped, "event")
    try:
        decoded = base64.b64decode(stripped, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("body is neither JSON nor base64") from None
    if decoded.lstrip()[:1] == b"{":
        return parse_json_document(decoded, "event")
    decoder = zlib.decompressobj()
    try:
        inflated = decoder.decompress(decoded, limit + 1)
    except zlib.error:
        raise BadRequest("base64 body is neither JSON nor zlib-compressed JSON") from None
    if len(inflated) > limit:
        raise PayloadTooLarge(f"event decompresses to more than {limit} bytes")
    return parse_json_document(inflated, "event")
