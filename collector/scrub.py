"""Data scrubbing at ingest, on by default, as Relay's default rules do: values under
sensitive keys, credit-card numbers (Luhn-valid digit runs), `key=value` secrets in text, and
credential headers are replaced before anything is stored, the raw payload included."""

import re
from collections.abc import Iterable
from typing import Any

from collector.raw_scan import might_hold_secrets
from collector.sensitive import CARD_CANDIDATE, SENSITIVE_KEY

FILTERED = "[Filtered]"
DIGIT_RUN = re.compile(r"\d\d\d\d")
VERDICT_CACHE_SIZE = 10_000
KEY_VALUE = re.compile(
    r"(?i)\b(password|passwd|pwd|secret|api_?key|token|cvv|cvc|ccv|auth)(\s*[=:]\s*)"
    r"(\"[^\"]*\"|'[^']*'|[^\s&,;\"']+)"
)


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if not luhn_valid(digits):
        return match.group(0)
    return "*" * (len(digits) - 4) + digits[-4:]


class Scrubber:
    def __init__(
        self, *, extra_patterns: Iterable[str] = (), safe_fields: Iterable[str] = ()
    ) -> None:
        self._extra = [re.compile(p) for p in extra_patterns]
        self._safe = {f.lower() for f in safe_fields}
        # Keys repeat across events (frames, breadcrumbs, headers): remember each verdict.
        self._verdicts: dict[str, bool] = {}

    def may_change(self, payload: bytes) -> bool:
        """Whether scrubbing could change the JSON document `payload`: False only when the
        walk would return it unchanged (`raw_scan`). Extra patterns may be anchored to a
        whole value, which raw text cannot tell: with any, every document takes the walk."""
        return bool(self._extra) or might_hold_secrets(payload)

    def text(self, value: str) -> str:
        # Cheap pre-checks first: most strings hold neither a long digit run nor a `k=v`.
        if DIGIT_RUN.search(value):
            value = CARD_CANDIDATE.sub(_mask_card, value)
        if "=" in value or ":" in value:
            value = KEY_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{FILTERED}", value)
        for pattern in self._extra:
            value = pattern.sub(FILTERED, value)
        return value

    def _sensitive(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = key.lower() not in self._safe and SENSITIVE_KEY.search(key) is not None
            if len(self._verdicts) < VERDICT_CACHE_SIZE:
                self._verdicts[key] = verdict
        return verdict

    def value(self, value: Any) -> Any:
        """A scrubbed copy of any JSON value."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                k: FILTERED if self._sensitive(k) and v not in (None, "") else self.value(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            # [key, value] pairs: tags and headers as lists.
            if len(value) == 2 and isinstance(value[0], str) and self._sensitive(value[0]):
                return [value[0], FILTERED]
            return [self.value(v) for v in value]
        if isinstance(value, int) and not isinstance(value, bool) and value > 10**12:
            masked = self.text(str(value))
            return value if masked == str(value) else masked
        return value
