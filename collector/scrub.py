"""Data scrubbing at ingest, on by default, as Relay's default rules do (README, Reliability:
Scrubbing): values under sensitive keys, credit-card numbers (Luhn-valid digit runs, in keys
too), `key=value` / `"key": "value"` secrets in text, `Bearer …` tokens, passwords in URLs and
credential headers are replaced before anything is stored, the raw payload included.

Every pattern here runs in time linear in the text: no pattern starts at every position of a
long run and rescans it (see `_mask_secrets`)."""

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from collector.raw_scan import might_hold_secrets
from collector.sensitive import CARD_CANDIDATE, SENSITIVE_KEY, URL_CREDENTIALS, luhn_valid

FILTERED = "[Filtered]"
DIGIT_RUN = re.compile(r"\d\d\d\d")
VERDICT_CACHE_SIZE = 10_000
# After a sensitive word: the rest of the key (`db_password_hash`), then what joins it to its
# value, as text, JSON or a Python repr writes it (`=`, `: `, `": "`, `': '`, `\": \"`).
KEY_TAIL = re.compile(r"[\w-]*")
SEPARATOR_VALUE = re.compile(
    r"""(\\?["']?\s*[=:]\s*)"""
    r"""(\\"(?:[^"\\]|\\.)*?\\"|"[^"]*"|'[^']*'"""
    r"""|(?:bearer|basic|digest|token)\s+[^\s&,;"']+|[^\s&,;"']+)""",
    re.IGNORECASE,
)
BEARER_VALUE = re.compile(r"""\s+([^\s&,;"']+)""")
HEX = frozenset("0123456789abcdefABCDEF")
__all__ = ["FILTERED", "Scrubber", "luhn_valid"]


def _token_around(text: str, start: int, end: int) -> str:
    while start > 0 and text[start - 1].isalnum():
        start -= 1
    while end < len(text) and text[end].isalnum():
        end += 1
    return text[start:end]


def _is_identifier(text: str, start: int, end: int) -> bool:
    """Whether the digits at text[start:end] are part of an id rather than a card number: a
    dashed id such as a UUID (`…-46b2-4111-111111111111`), or a hex token
    (`4111111111111111abcdef…`). Digits glued to other letters are a card."""
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    if before == "-" and start > 1 and text[start - 2].isalnum():
        return True
    if after == "-" and end + 1 < len(text) and text[end + 1].isalnum():
        return True
    if before.isalpha() or after.isalpha():
        return all(char in HEX for char in _token_around(text, start, end))
    return False


def _mask_card(match: re.Match[str]) -> str:
    # Full-width and other Unicode digits count as their value (`\d` matches them).
    digits = "".join(str(unicodedata.decimal(char)) for char in match.group(0) if char.isdecimal())
    if not luhn_valid(digits) or _is_identifier(match.string, match.start(), match.end()):
        return match.group(0)
    return "*" * (len(digits) - 4) + digits[-4:]


def _masked_value(value: str) -> str:
    """A secret value replaced, its quotes kept so that JSON in a string stays JSON."""
    if value.startswith('\\"'):
        return f'\\"{FILTERED}\\"'
    if value[:1] in ("'", '"'):
        return f"{value[0]}{FILTERED}{value[0]}"
    return FILTERED


def _mask_secrets(text: str) -> str:
    """`password=…`, `access_token: …`, `"client_secret": "…"`, `Authorization: Bearer …`
    and a bare `Bearer …`. One pass over the sensitive words; after each, the key's tail is
    read once and the scan resumes beyond it, so a long key full of sensitive words costs
    its length, not its length times its words."""
    pieces: list[str] = []
    copied = resume = 0
    for word in SENSITIVE_KEY.finditer(text):
        if word.start() < resume:
            continue
        tail = KEY_TAIL.match(text, word.end())
        resume = tail.end() if tail else word.end()
        found = SEPARATOR_VALUE.match(text, resume)
        if found is not None:
            start, end, masked = found.start(2), found.end(2), _masked_value(found.group(2))
        elif word.group(0).lower() == "bearer" and resume == word.end():
            found = BEARER_VALUE.match(text, resume)
            if found is None:
                continue
            start, end, masked = found.start(1), found.end(1), FILTERED
        else:
            continue
        pieces += (text[copied:start], masked)
        copied = resume = end
    if not pieces:
        return text
    pieces.append(text[copied:])
    return "".join(pieces)


class Scrubber:
    def __init__(
        self, *, extra_patterns: Iterable[str] = (), safe_fields: Iterable[str] = ()
    ) -> None:
        self._extra = [re.compile(p) for p in extra_patterns]
        self._safe = {f.lower() for f in safe_fields}
        # Keys repeat across events (frames, breadcrumbs, headers): remember each verdict.
        self._verdicts: dict[str, bool] = {}
        self._keys: dict[str, str] = {}

    def may_change(self, payload: bytes) -> bool:
        """Whether scrubbing could change the JSON document `payload`: False only when the
        walk would return it unchanged (`raw_scan`). Extra patterns may be anchored to a
        whole value, which raw text cannot tell: with any, every document takes the walk."""
        return bool(self._extra) or might_hold_secrets(payload)

    def text(self, value: str) -> str:
        # Cheap pre-checks first: most strings hold neither a long digit run nor a `k=v`.
        if DIGIT_RUN.search(value):
            value = CARD_CANDIDATE.sub(_mask_card, value)
        value = _mask_secrets(value)
        if "://" in value:
            value = URL_CREDENTIALS.sub(rf"\1{FILTERED}@", value)
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

    def _key(self, key: str) -> str:
        """Keys are text too: a card number used as a key is masked like any other."""
        scrubbed = self._keys.get(key)
        if scrubbed is None:
            scrubbed = self.text(key)
            if len(self._keys) < VERDICT_CACHE_SIZE:
                self._keys[key] = scrubbed
        return scrubbed

    def value(self, value: Any) -> Any:
        """A scrubbed copy of any JSON value."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                self._key(k): FILTERED
                if self._sensitive(k) and v not in (None, "")
                else self.value(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            # [key, value] pairs: tags and headers as lists.
            if len(value) == 2 and isinstance(value[0], str) and self._sensitive(value[0]):
                return [self._key(value[0]), FILTERED]
            return [self.value(v) for v in value]
        if isinstance(value, int) and not isinstance(value, bool) and value > 10**12:
            masked = self.text(str(value))
            return value if masked == str(value) else masked
        return value
