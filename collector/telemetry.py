"""What spans and log entries share at ingest: typed attributes flattened and capped, ids,
texts, the keys they carry, and the ids of the events made of them.

Attributes arrive as `{name: {"value": …, "type": …}}` (span protocol, logs protocol); they
are read as a flat `{name: value}` map, the way the correlation rules read an event's tags and
extra, so that the same `KeyExtractor` finds an order id in either.
"""

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from typing import Any

import orjson

from collector.limits import (
    MAX_ATTRIBUTE_ARRAY,
    MAX_ATTRIBUTE_NAME,
    MAX_ATTRIBUTE_VALUE,
    MAX_ATTRIBUTES,
    MAX_SCANNED_TEXT,
)
from rules.extract import MAX_TEXT_LENGTH, EventFields, Key, KeyExtractor

TAG_LIMIT = 200  # as event tags (collector/normalize.py)
NUL = "\x00"
# Carriers the extractor names for tags and extra: for spans and logs both are attributes.
ATTRIBUTE_CARRIER = re.compile(r"(^|; )(?:tag|extra):")


@dataclass
class Attributes:
    """An entry's attributes as stored, and what capping them cost."""

    values: dict[str, Any] = field(default_factory=dict)
    dropped: int = 0  # attributes beyond MAX_ATTRIBUTES
    cut: int = 0  # values (strings, arrays) cut short

    def text(self, *names: str, limit: int = 250) -> str | None:
        """The first of `names` that holds a non-empty scalar, as text."""
        for name in names:
            value = self.values.get(name)
            if type(value) is str:  # the usual case: no call to make
                if value:
                    return value[:limit] if NUL not in value else clean(value, limit)
            elif value is not None and not isinstance(value, list | dict) and value != "":
                return clean(_scalar_text(value), limit)
        return None


def clean(value: str, limit: int) -> str:
    """Text for a column: cut, and without NUL (PostgreSQL text cannot hold it)."""
    return value[:limit].replace(NUL, "")


def text_of(value: object, limit: int) -> str | None:
    if isinstance(value, str) and value:
        return clean(value, limit) or None
    return None


def hex_id(value: object, pattern: re.Pattern[str]) -> str | None:
    """A trace (32 hex) or span (16 hex) id, lower-cased; None unless valid."""
    if not isinstance(value, str) or len(value) > 36:
        return None
    candidate = value.replace("-", "").lower()
    return candidate if pattern.match(candidate) else None


def attributes_of(raw: object) -> Attributes:
    """At most MAX_ATTRIBUTES of them, names and values capped; `{"value": v, "type": t}` is
    read as `v`, and a bare value (an SDK that skips the type) as itself."""
    found = Attributes()
    if not isinstance(raw, dict):
        return found
    values, cut = found.values, 0
    items: Iterable[tuple[Any, Any]] = raw.items()
    if len(raw) > MAX_ATTRIBUTES:
        found.dropped = len(raw) - MAX_ATTRIBUTES
        items = islice(items, MAX_ATTRIBUTES)
    # Nearly every attribute is a short string or a number under a short name, read as it is:
    # only the others take `_capped` and `clean` (a function call per value cost more than the
    # rest of reading an entry, bench/telemetry_cpu.py).
    for name, given in items:
        value = given["value"] if isinstance(given, dict) and "value" in given else given
        kind = type(value)
        if type(value) is str:
            if len(value) > MAX_ATTRIBUTE_VALUE or NUL in value:
                value, was_cut = _capped(value)
                cut += was_cut
        elif not (value is None or kind is int or kind is float or kind is bool):
            value, was_cut = _capped(value)
            cut += was_cut
        if type(name) is not str or len(name) > MAX_ATTRIBUTE_NAME or NUL in name:
            name = clean(str(name), MAX_ATTRIBUTE_NAME)
        values[name] = value
    found.cut = cut
    return found


def _capped(value: Any) -> tuple[Any, bool]:
    if value is None or isinstance(value, bool | int | float):
        return value, False
    if isinstance(value, str):
        return clean(value, MAX_ATTRIBUTE_VALUE), len(value) > MAX_ATTRIBUTE_VALUE
    if isinstance(value, list):
        items = [_capped(v)[0] for v in value[:MAX_ATTRIBUTE_ARRAY]]
        items = [v if not isinstance(v, list | dict) else _json_text(v) for v in items]
        return items, len(value) > MAX_ATTRIBUTE_ARRAY
    text = _json_text(value)  # an object: not an attribute type, kept as its JSON text
    return clean(text, MAX_ATTRIBUTE_VALUE), len(text) > MAX_ATTRIBUTE_VALUE


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()[: MAX_ATTRIBUTE_VALUE + 1]


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def tags_of(attributes: Attributes) -> dict[str, str]:
    """The scalar attributes as strings: how an event made of a span or log shows them."""
    return {
        name[:TAG_LIMIT]: _scalar_text(value)[:TAG_LIMIT]
        for name, value in attributes.values.items()
        if value is not None and not isinstance(value, list | dict)
    }


# Keys already extracted for fields alike (`KeyExtractor.tag_names`, `extra_names`,
# `patterns`): the entries of one item mostly carry the same order id, under the same names.
KeyCache = dict[tuple[Any, ...], list[Key]]


def keys_of(
    extractor: KeyExtractor,
    attributes: Attributes,
    carrier: str,
    text: str,
    cache: KeyCache | None = None,
) -> list[Key]:
    """The business keys of a span or log entry: its attributes as tags and extra, its name
    or body as a text the rules' patterns read; carriers say `attribute:<name>`. With a
    `cache` (one per item), an entry alike to one read before gets its keys again: the 50
    spans of a request or the 10 log entries of an order cost one extraction, not 50 or 10
    (bench/telemetry_cpu.py)."""
    text = text[:MAX_SCANNED_TEXT]
    signature = None if cache is None else _signature(extractor, attributes, carrier, text)
    if cache is None or signature is None:
        return _extracted(extractor, attributes, carrier, text)
    found = cache.get(signature)
    if found is None:
        found = cache[signature] = _extracted(extractor, attributes, carrier, text)
    return list(found)


def _extracted(
    extractor: KeyExtractor, attributes: Attributes, carrier: str, text: str
) -> list[Key]:
    values = attributes.values
    tags = {  # `tags_of`, for the names the rules read
        name: _scalar_text(value)[:TAG_LIMIT]
        for name in extractor.tag_names
        if (value := values.get(name)) is not None and not isinstance(value, list | dict)
    }
    fields = EventFields(tags, [], values, [(carrier, text)])
    return [_attribute_carrier(key) for key in extractor.extract(fields)]


def _signature(
    extractor: KeyExtractor, attributes: Attributes, carrier: str, text: str
) -> tuple[Any, ...] | None:
    """All that `extract` reads of an entry: its values under the rules' tag and extra names
    and its text's matches, with the carrier they would name; None (no reuse) when one of
    those values is not a string, whose text form its type would decide."""
    values = attributes.values
    read = [values.get(name) for name in _read_names(extractor)]
    for value in read:
        if value is not None and type(value) is not str:
            return None
    text = text[:MAX_TEXT_LENGTH]
    # What each pattern matched: its `value` group (findall gives it, or the tuple of every
    # group, with "" where `extract` sees None: both are no key).
    return carrier, *read, *[tuple(pattern.findall(text)) for pattern in extractor.patterns]


@lru_cache(maxsize=8)
def _read_names(extractor: KeyExtractor) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*extractor.tag_names, *extractor.extra_names]))


def _attribute_carrier(key: Key) -> Key:
    return key._replace(
        carrier=ATTRIBUTE_CARRIER.sub(r"\1attribute:", key.carrier)[:80],
        overruled=ATTRIBUTE_CARRIER.sub(r"\1attribute:", key.overruled)[:250],
        value=key.value.replace(NUL, ""),
    )


def derived_event_id(*parts: str) -> str:
    """The event id of an event made of a span or log entry: the same every time the same
    entry arrives, so a replay is stored once (the event table's unique event id)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def digest_of(entry: Mapping[str, Any]) -> str:
    """An entry's identity when the protocol gives it none (log entries)."""
    data = orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(data, digest_size=16).hexdigest()
