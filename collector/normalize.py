"""One SDK event → one `event` row, its grouping seed and its correlation keys.

Runs once, at ingest (docs/protocol.md#event-payload); everything downstream reads the columns
it fills.
"""

import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast

from collector import grouping
from collector.batch import EventRow, GroupSeed, NormalizedEvent
from collector.formatting import format_params
from collector.limits import MAX_SCANNED_TEXT
from collector.timestamps import event_time, parse_timestamp
from rules.extract import EventFields, KeyExtractor
from store.errors import BadRequest
from store.payload import compress

LEVELS = {"fatal", "error", "warning", "info", "debug"}
LEVEL_ALIASES = {"warn": "warning", "critical": "fatal", "log": "info"}
# \Z, not $: `$` also matches before a final newline, which would pass "…\n" as an id.
HEX32 = re.compile(r"[0-9a-f]{32}\Z")
HEX16 = re.compile(r"[0-9a-f]{16}\Z")
TAG_LIMIT = 200
NUL = "\x00"


def normalize_event_id(value: object) -> str | None:
    """32 lowercase hex; dashed UUIDs are accepted. None when absent or malformed."""
    if not isinstance(value, str):
        return None
    candidate = value.replace("-", "").lower() if len(value) == 36 else value.lower()
    return candidate if HEX32.match(candidate) else None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object, limit: int) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = value if isinstance(value, str) else str(value)
    return text[:limit] if text else None


def values_of(container: object) -> list[dict[str, Any]]:
    """`{"values": [...]}` or a bare list, as exception and breadcrumbs may be."""
    if isinstance(container, dict):
        container = container.get("values")
    if isinstance(container, list):
        return [value for value in container if isinstance(value, dict)]
    return []


def normalize_tags(tags: object) -> dict[str, str]:
    """An object, or a list of [key, value] pairs; values stringified, both cut to 200."""
    pairs: list[Any]
    if isinstance(tags, dict):
        pairs = list(tags.items())
    elif isinstance(tags, list):
        pairs = [p for p in tags if isinstance(p, list | tuple) and len(p) == 2]
    else:
        return {}
    result: dict[str, str] = {}
    for key, value in pairs:
        if key is None or value is None:
            continue
        name = str(key).removeprefix("sentry:")[:TAG_LIMIT]
        result[name] = (value if isinstance(value, str) else _json_text(value))[:TAG_LIMIT]
    return result


def _json_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def message_of(event: Mapping[str, Any]) -> tuple[str, str]:
    """(formatted text, grouping template) from `logentry` or the legacy `message`."""
    entry = event.get("logentry")
    if not isinstance(entry, dict):
        entry = event.get("message") if isinstance(event.get("message"), dict) else None
    if isinstance(entry, dict):
        template = _string(entry.get("message"))
        formatted = _string(entry.get("formatted"))
        if not formatted and template:
            formatted = format_params(template, entry.get("params"))
        return formatted or template, template or formatted
    text = _string(event.get("message"))
    return text, text


def _string(value: object) -> str:
    return value if isinstance(value, str) else ""


def _level(value: object, default: str) -> str:
    if not isinstance(value, str):
        return default
    level = LEVEL_ALIASES.get(value.lower(), value.lower())
    return level if level in LEVELS else default


def _first_line(text: str, limit: int = 100) -> str:
    # Cut before splitting: a 1 MiB message of newlines would make a million lines.
    text = text.strip()[: limit * 100]
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def title_of(
    kind: str, event: Mapping[str, Any], exceptions: list[dict[str, Any]], message: str
) -> str:
    if kind == "transaction":
        return _text(event.get("transaction"), 200) or "<unlabeled transaction>"
    if exceptions:
        last = exceptions[-1]
        exc_type = _text(last.get("type"), 128) or "Error"
        value = _text(last.get("value"), 10_000)
        if value and is_synthetic(last):
            return _first_line(value)  # its type was made up by the SDK: Sentry leaves it out
        return f"{exc_type}: {_first_line(value)}" if value else exc_type
    return _first_line(message) or "<unlabeled event>"


def is_synthetic(exception: Mapping[str, Any]) -> bool:
    """An exception an SDK made to carry a stack (JS `captureMessage` with a stack trace):
    `mechanism.synthetic`. Neither its type nor its frames say where anything failed."""
    mechanism = exception.get("mechanism")
    return isinstance(mechanism, dict) and mechanism.get("synthetic") is True


def culprit_of(event: Mapping[str, Any], exceptions: list[dict[str, Any]]) -> str:
    """Sentry's order: an explicit culprit, the transaction, then the crashing frame."""
    for field in ("culprit", "transaction"):
        value = _text(event.get(field), 200)
        if value:
            return value
    frames: list[Any] = []
    for exc in reversed([e for e in exceptions if not is_synthetic(e)]):
        frames = grouping.frames_of(exc.get("stacktrace"))
        if frames:
            break
    if not frames:
        frames = grouping.frames_of(event.get("stacktrace"))
    in_app = [f for f in frames if f.get("in_app") is True] or frames
    if in_app:
        frame = in_app[-1]
        where = _text(frame.get("module"), 200) or _text(frame.get("filename"), 200) or "?"
        function = _text(frame.get("function"), 200)
        return f"{where} in {function}" if function else where
    request = event.get("request")
    if isinstance(request, dict):
        return _text(request.get("url"), 200) or ""
    return ""


def _drop_nul(row: EventRow, tags: dict[str, str]) -> None:
    """PostgreSQL text cannot hold NUL characters, which JSON strings may: they are dropped
    from the normalised columns (the raw payload keeps them)."""
    columns = cast(dict[str, Any], row)  # every string column alike, whatever its name
    for key, value in columns.items():
        if isinstance(value, str) and NUL in value:
            columns[key] = value.replace(NUL, "")
    for key, value in list(tags.items()):
        if NUL in key or NUL in value:
            del tags[key]
            tags[key.replace(NUL, "")] = value.replace(NUL, "")


def _event_id(given: object, fallback: object) -> str:
    event_id = normalize_event_id(given) or normalize_event_id(fallback)
    if event_id is not None:
        return event_id
    if given is not None:
        raise BadRequest("event_id must be 32 hex characters or a UUID")
    return uuid.uuid4().hex


def _trace_ids(trace: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(trace_id, span_id, parent_span_id) of `contexts.trace`, each dropped unless valid hex."""
    trace_id = _text(trace.get("trace_id"), 64)
    trace_id = trace_id.replace("-", "").lower() if trace_id else None
    span_id, parent = (_text(trace.get(k), 16) for k in ("span_id", "parent_span_id"))
    span_id, parent = (v.lower() if v else None for v in (span_id, parent))
    return (
        trace_id if trace_id and HEX32.match(trace_id) else None,
        span_id if span_id and HEX16.match(span_id) else None,
        parent if parent and HEX16.match(parent) else None,
    )


def _handled(exceptions: list[dict[str, Any]]) -> bool | None:
    """As Sentry reads it: an event is unhandled when any exception of its chain is (a cause
    that escaped is a crash even if an outer handler wrapped it); None when none says."""
    flags = [
        mechanism["handled"]
        for e in exceptions
        if isinstance(mechanism := e.get("mechanism"), dict)
        and isinstance(mechanism.get("handled"), bool)
    ]
    if not flags:
        return None
    return all(flags)


def fields_of(event: dict[str, Any]) -> EventFields:
    """What of a stored or received event may carry a key: a rebuild re-reads stored payloads
    through this to extract keys under the rules in force."""
    return _fields(
        event,
        normalize_tags(event.get("tags")),
        values_of(event.get("breadcrumbs")),
        message_of(event)[0],
        values_of(event.get("exception")),
        _mapping(event.get("contexts")),
    )


def _fields(
    event: dict[str, Any],
    tags: Mapping[str, str],
    breadcrumbs: list[dict[str, Any]],
    message: str,
    exceptions: list[dict[str, Any]],
    contexts: Mapping[str, Any],
) -> EventFields:
    # The correlation rules' patterns see at most MAX_SCANNED_TEXT of each text (README,
    # Ingestion: Limits): a configured pattern may backtrack, and the event is 1 MiB.
    texts = [("message", message[:MAX_SCANNED_TEXT])]
    texts += [
        ("exception", v[:MAX_SCANNED_TEXT])
        for e in exceptions
        if isinstance(e, dict) and isinstance(v := e.get("value"), str)
    ]
    if isinstance(name := event.get("transaction"), str):
        texts.append(("transaction", name[:MAX_SCANNED_TEXT]))
    extra = _mapping(event.get("extra"))
    began = parse_timestamp(event.get("start_timestamp"))
    return EventFields(tags, breadcrumbs, extra, texts, contexts, _left_since(began))


def _left_since(began: datetime | None) -> Callable[[Mapping[str, Any]], bool] | None:
    """A breadcrumb is of the work that began at `began` unless its timestamp says it is
    older; one without a readable timestamp is given the benefit of the doubt."""
    if began is None:
        return None

    def in_unit(crumb: Mapping[str, Any]) -> bool:
        left = parse_timestamp(crumb.get("timestamp"))
        return left is None or left >= began

    return in_unit


def normalize_event(
    event: dict[str, Any],
    *,
    kind: str,
    payload: bytes,
    received_at: datetime,
    fallback_event_id: object,
    extractor: KeyExtractor,
) -> NormalizedEvent:
    """`kind` is the item type: "event" or "transaction"."""
    event_id = _event_id(event.get("event_id"), fallback_event_id)
    tags = normalize_tags(event.get("tags"))
    exceptions = values_of(event.get("exception"))
    breadcrumbs = values_of(event.get("breadcrumbs"))
    message, template = message_of(event)
    contexts = _mapping(event.get("contexts"))
    trace = _mapping(contexts.get("trace"))
    # Relay fills in `other` for an event that names no platform, as Sentry stores it.
    platform = _text(event.get("platform"), 64) or "other"
    timestamp = event_time(event.get("timestamp"), received_at)

    if kind == "transaction":
        event_type, level = "transaction", _level(event.get("level"), "info")
    else:
        event_type = "error" if exceptions else "default"
        level = _level(event.get("level"), "error")
    title = title_of(event_type, event, exceptions, message)
    culprit = culprit_of(event, exceptions)

    duration_ms = None
    started = parse_timestamp(event.get("start_timestamp"))
    if kind == "transaction" and started is not None:
        duration_ms = max(0.0, (timestamp - started).total_seconds() * 1000)
    trace_id, span_id, parent_span_id = _trace_ids(trace)
    server_name = _text(event.get("server_name"), 128)
    row: EventRow = {
        "event_id": event_id,
        "type": event_type,
        "timestamp": timestamp,
        "received_at": received_at,
        "level": level,
        "platform": platform,
        "logger": _text(event.get("logger"), 128),
        "service": (tags.get("service") or server_name or "")[:128] or None,
        "server_name": server_name,
        "release": _text(event.get("release"), 250),
        "environment": _text(event.get("environment"), 64),
        "transaction": _text(event.get("transaction"), 200),
        "title": title,
        "culprit": culprit,
        "message": message[:MAX_SCANNED_TEXT],
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": parent_span_id,
        "op": _text(trace.get("op"), 128),
        "duration_ms": duration_ms,
        "handled": _handled(exceptions),
        "tags": tags,
        "payload": compress(payload),
        "source": "sdk",
        "external_url": None,
    }

    _drop_nul(row, tags)
    fields = _fields(event, tags, breadcrumbs, message, exceptions, contexts)
    keys = [key._replace(value=key.value.replace(NUL, "")) for key in extractor.extract(fields)]

    group = None
    if event_type != "transaction":
        default = grouping.default_components(
            exceptions, event.get("stacktrace"), template or message, platform
        )
        digest = grouping.grouping_hash(event.get("fingerprint"), default, [title])
        group = GroupSeed(digest, row["title"], row["culprit"], event_type, level)
    return NormalizedEvent(row, keys, group)
