"""`attachment` items: files sent with the event of their envelope (its header's `event_id`),
size-capped, scrubbed when they are text, compressed (docs/protocol.md#attachments).

What comes from the client (filename, content type) is data to show, never to act on: the
download (dashboard/api.py) always answers `application/octet-stream` with a sanitised name.
"""

import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import Any

from collector.batch import AttachmentRow, DroppedItem
from collector.limits import (
    MAX_ATTACHMENT_CONTENT_TYPE,
    MAX_ATTACHMENT_FILENAME,
    MAX_ATTACHMENT_TYPE,
)
from collector.normalize import normalize_event_id
from collector.parsers import Item, parse_json_document
from store.errors import BadRequest
from store.payload import compress

DEFAULT_TYPE = "event.attachment"
BINARY = "application/octet-stream"
JSON_TYPES = frozenset({"application/json"})
ScrubDocument = Callable[[dict[str, Any], bytes], tuple[dict[str, Any], bytes]]
ScrubText = Callable[[str], str]


def _header_text(value: object, limit: int) -> str | None:
    """A header string with control characters (NUL included: PostgreSQL refuses it) dropped,
    cut to `limit`; None when nothing is left."""
    if not isinstance(value, str):
        return None
    kept = "".join(ch for ch in value if unicodedata.category(ch)[0] != "C")
    return kept.strip()[:limit] or None


def media_type(content_type: str) -> str:
    """`text/plain; charset=utf-8` → `text/plain`."""
    return content_type.split(";", 1)[0].strip().lower()


def is_text(content_type: str) -> bool:
    kind = media_type(content_type)
    return kind.startswith("text/") or kind in JSON_TYPES


def scrubbed_text(
    data: bytes, content_type: str, document: ScrubDocument, text: ScrubText
) -> bytes:
    """A text attachment scrubbed as events are: a JSON object walked like an event
    (sensitive keys and values), anything else as one string. Bytes that are not UTF-8 are kept
    as they were (surrogateescape), so only what the scrubber replaces changes."""
    if media_type(content_type) in JSON_TYPES:
        try:
            return document(*parse_json_document(data, "attachment"))[1]
        except BadRequest:
            pass  # not a JSON object: scrubbed as text
    decoded = data.decode("utf-8", "surrogateescape")
    cleaned = text(decoded)
    return data if cleaned == decoded else cleaned.encode("utf-8", "surrogateescape")


def attachment_row(
    item: Item,
    *,
    envelope_event_id: object,
    received_at: datetime,
    max_bytes: int,
    scrub: tuple[ScrubDocument, ScrubText] | None,
) -> AttachmentRow:
    """The stored form of one attachment item; `DroppedItem` when it cannot be stored."""
    size = len(item.payload)
    if size > max_bytes:
        raise DroppedItem("invalid", f"attachment larger than {max_bytes} bytes")
    event_id = normalize_event_id(envelope_event_id)
    if event_id is None:
        raise DroppedItem("invalid", "attachment without the event_id of its envelope")
    filename = _header_text(item.headers.get("filename"), MAX_ATTACHMENT_FILENAME)
    if filename is None:
        raise DroppedItem("invalid", "attachment without a filename")
    content_type = (
        _header_text(item.headers.get("content_type"), MAX_ATTACHMENT_CONTENT_TYPE) or BINARY
    )
    kind = _header_text(item.headers.get("attachment_type"), MAX_ATTACHMENT_TYPE)
    data = item.payload
    if scrub is not None:
        filename = scrub[1](filename)[:MAX_ATTACHMENT_FILENAME]
        if is_text(content_type):
            data = scrubbed_text(data, content_type, *scrub)
    return AttachmentRow(
        event_id=event_id,
        filename=filename,
        content_type=content_type,
        attachment_type=kind or DEFAULT_TYPE,
        size=len(data),
        data=compress(data),
        received_at=received_at,
    )
