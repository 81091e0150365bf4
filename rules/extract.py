"""Pull business keys out of one event, following the configured rules."""

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from rules.config import CorrelationRules, KeyRule

MAX_VALUE_LENGTH = 200
# Patterns run over at most this much of each text (the collector's MAX_SCANNED_TEXT, README,
# Ingestion: Limits): a configured pattern may backtrack, and an event's message may be 1 MiB.
MAX_TEXT_LENGTH = 8192
# How much of the overruled carriers a key records (they are an explanation, not data).
MAX_OVERRULED_LENGTH = 250
# A context path is at most this many names deep (rules file: contexts = ["order.id"]).
MAX_CONTEXT_DEPTH = 8


class Key(NamedTuple):
    """One business key of an event, and where the event carries it.

    `carrier` names the field that decided (`tag:order_id`, `extra:OrderID`,
    `context:order.id`, `message`, `exception`, `transaction`, `breadcrumb:OrderID`);
    `overruled` lists the other values the event carried for the same key, each with its
    carrier, which lost to it (docs/decisions.md#11).
    """

    name: str
    value: str
    carrier: str
    overruled: str = ""


@dataclass(frozen=True)
class EventFields:
    """The parts of a normalised event that may carry a key."""

    tags: Mapping[str, str]
    breadcrumbs: Iterable[Mapping[str, Any]]
    extra: Mapping[str, Any]
    texts: Sequence[tuple[str, str]]  # (carrier, text): message, exception, transaction
    contexts: Mapping[str, Any] | None = None
    # Whether a breadcrumb belongs to the event's own unit of work (for a transaction: left
    # since it began); None when the event does not say when its work began.
    in_unit: Callable[[Mapping[str, Any]], bool] | None = None


class KeyExtractor:
    def __init__(self, rules: CorrelationRules) -> None:
        self._rules = [(rule, [re.compile(p) for p in rule.patterns]) for rule in rules.keys]
        # All that `extract` reads of fields without contexts or breadcrumbs: these tags and
        # extra, and what these patterns match in the texts. Fields alike in these get the
        # same keys, which a caller reading many alike (the spans of one request) may reuse.
        self.tag_names = tuple(dict.fromkeys(t for rule in rules.keys for t in rule.tags))
        self.extra_names = tuple(dict.fromkeys(e for rule in rules.keys for e in rule.extra))
        self.patterns = tuple(pattern for _, patterns in self._rules for pattern in patterns)

    def extract(self, fields: EventFields) -> list[Key]:
        """At most one value per key, in rule order.

        What the event says about itself decides (docs/decisions.md#11): its tags, extra,
        contexts, then its message, exception and transaction text. When these disagree the
        first in that order wins and the others are recorded as overruled: an event joins one
        order, never two. Breadcrumbs count only when none of these carries the key, and then
        only the latest breadcrumb that does, and only one left since the event's work began
        when the event says when that was (a transaction's start_timestamp): an SDK with no
        request scope keeps the breadcrumbs of earlier orders (sentry-python in a worker loop),
        and an error of order B must not join order A because A's breadcrumb is still there.
        """
        breadcrumbs = [c for c in fields.breadcrumbs if isinstance(c.get("data"), dict)]
        texts = [(carrier, text[:MAX_TEXT_LENGTH]) for carrier, text in fields.texts if text]
        found: list[Key] = []
        for rule, patterns in self._rules:
            candidates = _cleaned(rule, _own_values(rule, patterns, fields, texts))
            if not candidates:
                candidates = _cleaned(
                    rule, _latest_breadcrumb_value(rule, breadcrumbs, fields.in_unit)
                )
            if candidates:
                found.append(_decided(rule.name, candidates))
        return found


def _decided(name: str, candidates: list[tuple[str, str]]) -> Key:
    value, carrier = candidates[0]
    losers = [f"{where}={other}" for other, where in candidates[1:] if other != value]
    overruled = "; ".join(dict.fromkeys(losers))
    if len(overruled) > MAX_OVERRULED_LENGTH:
        overruled = overruled[: MAX_OVERRULED_LENGTH - 1] + "…"
    return Key(name, value, carrier, overruled)


def _cleaned(rule: KeyRule, values: Iterable[tuple[Any, str]]) -> list[tuple[str, str]]:
    """(value, carrier) pairs with usable values, the first carrier of each value kept."""
    kept: dict[str, str] = {}
    seen: set[str] = set()  # a key repeats (tag, extra and message): clean it once
    for value, carrier in values:
        if isinstance(value, str):
            if value in seen:
                continue
            seen.add(value)
        cleaned = _clean(value)
        if cleaned and cleaned not in rule.ignore_values:
            kept.setdefault(cleaned, carrier)
    return list(kept.items())


def _own_values(
    rule: KeyRule,
    patterns: list[re.Pattern[str]],
    fields: EventFields,
    texts: list[tuple[str, str]],
) -> Iterator[tuple[Any, str]]:
    for tag in rule.tags:
        if tag in fields.tags:
            yield fields.tags[tag], f"tag:{tag}"
    for key in rule.extra:
        if key in fields.extra:
            yield fields.extra[key], f"extra:{key}"
    for path in rule.contexts:
        found = _context_value(fields.contexts, path)
        if found is not None:
            yield found, f"context:{path}"
    for pattern in patterns:
        for carrier, text in texts:
            for match in pattern.finditer(text):
                yield match.group("value"), carrier


def _context_value(contexts: Mapping[str, Any] | None, path: str) -> Any:
    node: Any = contexts
    for part in path.split(".", MAX_CONTEXT_DEPTH)[:MAX_CONTEXT_DEPTH]:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _latest_breadcrumb_value(
    rule: KeyRule,
    breadcrumbs: list[Mapping[str, Any]],
    in_unit: Callable[[Mapping[str, Any]], bool] | None,
) -> list[tuple[Any, str]]:
    """The key of the newest breadcrumb of the event's own work that carries one (SDKs send
    breadcrumbs oldest first, so the search stops at the first one left before the work)."""
    for crumb in reversed(breadcrumbs):
        if in_unit is not None and not in_unit(crumb):
            return []
        data = crumb["data"]
        for key in rule.breadcrumb_data:
            if key in data and _cleaned(rule, [(data[key], "")]):
                return [(data[key], f"breadcrumb:{key}")]
    return []


def _clean(value: Any) -> str | None:
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    text = str(value).strip()
    if not text or len(text) > MAX_VALUE_LENGTH:
        return None
    return text
