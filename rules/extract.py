"""Pull business keys out of one event, following the configured rules."""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rules.config import CorrelationRules, KeyRule

MAX_VALUE_LENGTH = 200
# Patterns run over at most this much of each text (the collector's MAX_SCANNED_TEXT, README,
# Ingestion: Limits): a configured pattern may backtrack, and an event's message may be 1 MiB.
MAX_TEXT_LENGTH = 8192


@dataclass(frozen=True)
class EventFields:
    """The parts of a normalised event that may carry a key."""

    tags: Mapping[str, str]
    breadcrumbs: Iterable[Mapping[str, Any]]
    extra: Mapping[str, Any]
    texts: Iterable[str]


class KeyExtractor:
    def __init__(self, rules: CorrelationRules) -> None:
        self._rules = [(rule, [re.compile(p) for p in rule.patterns]) for rule in rules.keys]

    def extract(self, fields: EventFields) -> list[tuple[str, str]]:
        """Distinct (name, value) pairs, in rule order.

        What the event says about itself decides (docs/decisions.md#11): its tags, extra, and
        message or exception text. Breadcrumbs count only when none of these carries the key,
        and then only the latest breadcrumb that does: an SDK with no request scope keeps the
        breadcrumbs of earlier orders (sentry-python in a worker loop), and an error of order B
        must not join order A because A's breadcrumb is still in the buffer.
        """
        found: dict[tuple[str, str], None] = {}
        breadcrumbs = [c for c in fields.breadcrumbs if isinstance(c.get("data"), dict)]
        texts = [t[:MAX_TEXT_LENGTH] for t in fields.texts if t]
        for rule, patterns in self._rules:
            values = _cleaned(rule, _own_values(rule, patterns, fields, texts))
            if not values:
                values = _cleaned(rule, _latest_breadcrumb_value(rule, breadcrumbs))
            for value in values:
                found[(rule.name, value)] = None
        return list(found)


def _cleaned(rule: KeyRule, values: Iterable[Any]) -> list[str]:
    kept: dict[str, None] = {}
    seen: set[str] = set()  # a key repeats (tag, extra and message): clean it once
    for value in values:
        if isinstance(value, str):
            if value in seen:
                continue
            seen.add(value)
        cleaned = _clean(value)
        if cleaned and cleaned not in rule.ignore_values:
            kept[cleaned] = None
    return list(kept)


def _own_values(
    rule: KeyRule, patterns: list[re.Pattern[str]], fields: EventFields, texts: list[str]
) -> Iterable[Any]:
    for tag in rule.tags:
        if tag in fields.tags:
            yield fields.tags[tag]
    for key in rule.extra:
        if key in fields.extra:
            yield fields.extra[key]
    for pattern in patterns:
        for text in texts:
            for match in pattern.finditer(text):
                yield match.group("value")


def _latest_breadcrumb_value(rule: KeyRule, breadcrumbs: list[Mapping[str, Any]]) -> list[Any]:
    """The key of the newest breadcrumb that carries one (SDKs send breadcrumbs oldest first)."""
    for crumb in reversed(breadcrumbs):
        data = crumb["data"]
        for key in rule.breadcrumb_data:
            if key in data and _cleaned(rule, [data[key]]):
                return [data[key]]
    return []


def _clean(value: Any) -> str | None:
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    text = str(value).strip()
    if not text or len(text) > MAX_VALUE_LENGTH:
        return None
    return text
