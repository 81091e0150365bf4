"""What each envelope item becomes: events, spans, log entries, session counters, outcome
counts."""

from datetime import datetime
from typing import Any

import orjson

from collector import sessions
from collector.attachments import attachment_row
from collector.batch import DroppedItem, FeedbackRow, IngestBatch, NormalizedEvent, Outcome
from collector.checkins import InvalidCheckIn, read_check_in
from collector.feedback import feedback_row, user_report_row
from collector.limits import MAX_ENVELOPE_ENTRIES, MAX_ITEM_ENTRIES, MAX_REPORT_ENTRIES
from collector.logs import read_log_items
from collector.normalize import normalize_event
from collector.parsers import Envelope, Item, parse_json_document, parse_store_body
from collector.scrub import Scrubber
from collector.settings import CollectorSettings
from collector.spans import read_span_items, transaction_spans
from rules.config import current_rules
from rules.extract import KeyExtractor
from store.errors import BadRequest, PayloadTooLarge

EVENT_ITEMS = frozenset({"event", "transaction"})
# Items of many entries each (`{"items": [...]}`), and the outcome category they count in.
ENTRY_ITEMS = {"span": "span", "log": "log_item"}
# Stored in tables of their own (collector/feedback.py, collector/attachments.py); a bad one
# becomes an outcome, never an error for the whole envelope.
USER_ITEMS = frozenset({"feedback", "user_report", "attachment"})


class ItemReader:
    def __init__(self, settings: CollectorSettings, extractor: KeyExtractor) -> None:
        self.settings = settings
        self.extractor = extractor
        self.journey_key = current_rules().journey.key
        self.scrubber = (
            Scrubber(
                extra_patterns=settings.scrub_extra_patterns, safe_fields=settings.scrub_safe_fields
            )
            if settings.scrub
            else None
        )

    def scrubbed(self, value: dict[str, Any], raw: bytes) -> tuple[dict[str, Any], bytes]:
        """`value` and its raw text `raw`, scrubbed: the walk runs only where the raw text
        shows it could change something, and the raw text is then written anew."""
        if self.scrubber is None or not self.scrubber.may_change(raw):
            return value, raw
        value = self.scrubber.value(value)
        return value, orjson.dumps(value)

    def clean(self, value: dict[str, Any], raw: bytes) -> dict[str, Any]:
        """`scrubbed` for items whose raw text is not kept (sessions, client reports): their
        fields become rows, so they are scrubbed too (README, Reliability: Scrubbing)."""
        if self.scrubber is None or not self.scrubber.may_change(raw):
            return value
        scrubbed: dict[str, Any] = self.scrubber.value(value)
        return scrubbed

    def text(self, value: str) -> str:
        """One string from outside that becomes a column (an item type, a webhook header)."""
        return value if self.scrubber is None else self.scrubber.text(value)

    def event(
        self,
        payload: bytes,
        *,
        kind: str,
        received_at: datetime,
        fallback_event_id: object,
        client_ip: str | None = None,
        batch: IngestBatch | None = None,
    ) -> NormalizedEvent:
        """With a `batch`, a transaction's spans (itself and its `spans` array) go into it."""
        if len(payload) > self.settings.max_event_bytes:
            raise PayloadTooLarge(f"{kind} is larger than {self.settings.max_event_bytes} bytes")
        event, payload = with_client_address(*parse_json_document(payload, kind), client_ip)
        event, payload = self.scrubbed(event, payload)
        normalized = self.normalize(
            event,
            payload,
            kind=kind,
            received_at=received_at,
            fallback_event_id=fallback_event_id,
            scrubbed=True,
        )
        if batch is not None and kind == "transaction":
            spans, invalid, over = transaction_spans(event, normalized, self.extractor)
            batch.spans.extend(spans)
            _count_spans(batch, len(spans), invalid, over)
        return normalized

    def normalize(
        self,
        event: dict[str, Any],
        payload: bytes,
        *,
        kind: str,
        received_at: datetime,
        fallback_event_id: object,
        scrubbed: bool = False,
    ) -> NormalizedEvent:
        """Scrubs (unless the caller already did), then normalises. With scrubbing on, the
        stored raw payload is the scrubbed event: what was sent, less what must never be
        stored."""
        if not scrubbed:
            event, payload = self.scrubbed(event, payload)
        return normalize_event(
            event,
            kind=kind,
            payload=payload,
            received_at=received_at,
            fallback_event_id=fallback_event_id,
            extractor=self.extractor,
        )

    def store_body(
        self, body: bytes, received_at: datetime, client_ip: str | None = None
    ) -> NormalizedEvent:
        """The event of a `/store/` body (plain, base64 or base64 of zlib'd JSON)."""
        limit = self.settings.max_event_bytes
        event, payload = with_client_address(*parse_store_body(body, limit), client_ip)
        if len(payload) > limit:
            raise PayloadTooLarge(f"event is larger than {limit} bytes")
        kind = "transaction" if event.get("type") == "transaction" else "event"
        return self.normalize(
            event, payload, kind=kind, received_at=received_at, fallback_event_id=None
        )

    def envelope(
        self,
        project_id: int,
        envelope: Envelope,
        received_at: datetime,
        client_ip: str | None = None,
    ) -> IngestBatch:
        batch = IngestBatch(project_id)
        session_items = entries = 0
        if len(envelope.items) > self.settings.max_envelope_items:
            # Each item becomes at least a row (an outcome); SDKs send a handful per envelope.
            raise PayloadTooLarge(f"more than {self.settings.max_envelope_items} items")
        for item in envelope.items:
            kind = item.type
            if kind in EVENT_ITEMS:
                if batch.events:
                    raise BadRequest("an envelope holds at most one event or transaction")
                batch.events.append(
                    self.event(
                        item.payload,
                        kind=kind,
                        received_at=received_at,
                        fallback_event_id=envelope.headers.get("event_id"),
                        client_ip=client_ip,
                        batch=batch,
                    )
                )
            elif kind in ("session", "sessions"):
                session_items += 1
                if session_items > self.settings.max_session_items:
                    raise PayloadTooLarge(
                        f"more than {self.settings.max_session_items} session items"
                    )
                self._sessions(batch, item)
            elif kind == "client_report":
                self._client_report(batch, item)
            elif kind == "check_in":
                self._check_in(batch, item, received_at)
            elif kind in ENTRY_ITEMS:
                entries += self._entries(batch, item, received_at, entries)
            elif kind in USER_ITEMS:
                self._user_item(batch, item, envelope, received_at)
            else:
                batch.outcomes.append(
                    Outcome("skipped", self.text(kind)[:64], "unsupported item type", 1)
                )
        return batch

    def _sessions(self, batch: IngestBatch, item: Item) -> None:
        # An invalid release-health item is dropped, not fatal: Relay answers 200 and counts it.
        try:
            body = self.clean(*parse_json_document(item.payload, f"{item.type} item"))
        except BadRequest:
            body = {}
        if item.type == "session":
            update = sessions.from_session(body)
            if update is not None:
                batch.session_updates.append(update)
                return
        else:
            results = sessions.from_aggregates(body)
            for counts, user in results:
                batch.sessions.append(counts)
                if user is not None:
                    batch.users.append(user)
            if results:
                return
        batch.outcomes.append(Outcome("invalid", item.type, "invalid release health item", 1))

    def _check_in(self, batch: IngestBatch, item: Item, received_at: datetime) -> None:
        """A cron monitor's check-in (collector/checkins.py); refused ones are counted."""
        if len(item.payload) > self.settings.max_event_bytes:
            batch.outcomes.append(Outcome("invalid", "monitor", "too large", 1))
            return
        try:
            body = self.clean(*parse_json_document(item.payload, "check_in"))
            batch.check_ins.append(read_check_in(body, received_at))
        except BadRequest:
            batch.outcomes.append(Outcome("invalid", "monitor", "invalid JSON", 1))
        except InvalidCheckIn as refused:
            batch.outcomes.append(Outcome("invalid", "monitor", str(refused), 1))

    def _entries(self, batch: IngestBatch, item: Item, received_at: datetime, seen: int) -> int:
        """A span v2 or log item: scrubbed as a whole, then read entry by entry. More entries
        than the bounds allow is 413 for the envelope (collector/limits.py); an item that is
        no JSON object of `items` is dropped and counted as invalid, the rest kept. Returns
        how many entries it held."""
        category = ENTRY_ITEMS[item.type]
        try:
            body = self.clean(*parse_json_document(item.payload, f"{item.type} item"))
        except BadRequest:
            body = {}
        found = body.get("items")
        if not isinstance(found, list):
            batch.outcomes.append(Outcome("invalid", category, "invalid item", _declared(item)))
            return 0
        if len(found) > MAX_ITEM_ENTRIES:
            raise PayloadTooLarge(f"a {item.type} item holds more than {MAX_ITEM_ENTRIES} entries")
        if seen + len(found) > MAX_ENVELOPE_ENTRIES:
            raise PayloadTooLarge(f"an envelope holds more than {MAX_ENVELOPE_ENTRIES} entries")
        read = read_span_items if item.type == "span" else read_log_items
        read(batch, found, received_at, self.extractor)
        return len(found)

    def _client_report(self, batch: IngestBatch, item: Item) -> None:
        try:
            report = self.clean(*parse_json_document(item.payload, "client_report"))
        except BadRequest:
            batch.outcomes.append(Outcome("invalid", "client_report", "invalid JSON", 1))
            return
        for field in ("discarded_events", "rate_limited_events", "filtered_events"):
            entries = report.get(field)
            for entry in entries[:MAX_REPORT_ENTRIES] if isinstance(entries, list) else []:
                if not isinstance(entry, dict):
                    continue
                quantity = entry.get("quantity")
                if isinstance(quantity, int) and not isinstance(quantity, bool) and quantity > 0:
                    batch.outcomes.append(
                        Outcome(
                            "client_discarded",
                            str(entry.get("category", "unknown"))[:64],
                            str(entry.get("reason", field))[:128],
                            min(quantity, 2**31),
                        )
                    )

    def _user_item(
        self, batch: IngestBatch, item: Item, envelope: Envelope, received_at: datetime
    ) -> None:
        """A feedback, user report or attachment into the batch, or its outcome. Whether it
        is new (and, for an attachment, within the project's quota) is decided when it is
        stored, which records its `accepted` outcome (collector/persist_feedback.py)."""
        try:
            if item.type == "attachment":
                batch.attachment_quota = self.settings.max_project_attachment_bytes
                batch.attachments.append(
                    attachment_row(
                        item,
                        envelope_event_id=envelope.headers.get("event_id"),
                        received_at=received_at,
                        max_bytes=self.settings.max_attachment_bytes,
                        scrub=None if self.scrubber is None else (self.scrubbed, self.text),
                    )
                )
            else:
                batch.feedback.append(self._feedback(item, envelope, received_at))
        except DroppedItem as dropped:
            batch.outcomes.append(Outcome(dropped.outcome, item.type, dropped.reason, 1))

    def _feedback(self, item: Item, envelope: Envelope, received_at: datetime) -> FeedbackRow:
        if len(item.payload) > self.settings.max_event_bytes:
            raise DroppedItem("invalid", f"larger than {self.settings.max_event_bytes} bytes")
        try:
            value, raw = self.scrubbed(*parse_json_document(item.payload, item.type))
        except BadRequest:
            raise DroppedItem("invalid", "invalid JSON") from None
        fallback = envelope.headers.get("event_id")
        if item.type == "user_report":
            return user_report_row(value, received_at=received_at, fallback_event_id=fallback)
        return feedback_row(
            value,
            raw,
            received_at=received_at,
            fallback_event_id=fallback,
            extractor=self.extractor,
            journey_key=self.journey_key,
        )


def _declared(item: Item) -> int:
    """What an item says it holds (`item_count`), for counting it when it cannot be read."""
    count = item.headers.get("item_count")
    if isinstance(count, int) and not isinstance(count, bool) and count > 0:
        return min(count, MAX_ITEM_ENTRIES)
    return 1


def _count_spans(batch: IngestBatch, accepted: int, invalid: int, over: int) -> None:
    """A transaction's spans, counted as a span item's are."""
    for outcome, reason, quantity in (
        ("accepted", "stored", accepted),
        ("invalid", "invalid span", invalid),
        ("truncated", f"spans over {MAX_ITEM_ENTRIES} per transaction dropped", over),
    ):
        if quantity:
            batch.outcomes.append(Outcome(outcome, "span", reason, quantity))


AUTO = "{{auto}}"


def with_client_address(
    event: dict[str, Any], payload: bytes, client_ip: str | None
) -> tuple[dict[str, Any], bytes]:
    """`user.ip_address: "{{auto}}"` asks for the address the request came from (browser SDKs
    send it, docs/protocol.md): the peer's, or the one a proxy forwarded when uvicorn trusts
    that proxy (`--forwarded-allow-ips`, `FORWARDED_ALLOW_IPS`)."""
    user = event.get("user")
    if client_ip is None or not isinstance(user, dict) or user.get("ip_address") != AUTO:
        return event, payload
    resolved = {**event, "user": {**user, "ip_address": client_ip}}
    return resolved, orjson.dumps(resolved)
