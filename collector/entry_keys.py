"""Keys of the events made of a span or a log entry, read again from what they stored.

A span v2 segment and an error or fatal log entry also become events (collector/spans.py,
collector/logs.py) whose stored payload is the entry itself, not an event: re-extracting their
keys under new rules (`sentrail correlate --rebuild`) reads them as ingest did.
"""

from typing import Any

from collector.spans import span_name
from collector.telemetry import attributes_of, keys_of
from rules.extract import Key, KeyExtractor

SOURCES = frozenset({"span", "log"})  # Event.source of the events made of entries


def entry_keys(extractor: KeyExtractor, source: str, entry: dict[str, Any]) -> list[Key]:
    attributes = attributes_of(entry.get("attributes"))
    if source == "span":
        return keys_of(extractor, attributes, "span name", span_name(entry, attributes))
    body = entry.get("body")
    return keys_of(extractor, attributes, "log body", body if isinstance(body, str) else "")
