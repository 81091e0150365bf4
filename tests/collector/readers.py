"""The collector's readers as the fuzz tests drive them, without a server or a database."""

from datetime import UTC, datetime

import orjson

from collector.items import ItemReader
from collector.parsers import parse_json_document
from collector.settings import CollectorSettings
from collector.webhooks import _comment, _issue
from rules.config import current_rules
from rules.extract import KeyExtractor

NOW = datetime(2026, 11, 27, tzinfo=UTC)
READER = ItemReader(CollectorSettings(), KeyExtractor(current_rules()))


def read_webhook(body: bytes) -> None:
    """What WebhookReader.read does before it needs a database: parse, scrub, read the issue,
    the comment or the event the delivery carries."""
    payload, raw = parse_json_document(body, "webhook body")
    payload, raw = READER.scrubbed(payload, raw)
    data = payload.get("data")
    data = data if isinstance(data, dict) else {}
    action = str(payload.get("action"))[:64]
    _issue(data, action, NOW)
    _comment(data, action, NOW, payload.get("actor"))
    event = data.get("error") or data.get("event")
    if isinstance(event, dict):
        READER.normalize(
            event,
            orjson.dumps(event),
            kind="event",
            received_at=NOW,
            fallback_event_id=None,
            scrubbed=True,
        )
