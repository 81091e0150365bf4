"""Data scrubbing at ingest, on by default, as Relay's default rules do (README, Reliability:
Scrubbing): values under sensitive keys, credit-card numbers (Luhn-valid digit runs, in keys
too), `key=value` / `"key": "value"` secrets in text, `Bearer …` tokens, passwords in URLs and
credential headers are replaced before anything is stored, the raw payload included.

Every pattern here runs in time linear in the text: no pattern starts at every position of a
long run and rescans it (see `_mask_secrets`)."""

import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any

from collector.raw_scan import SENSITIVE_AUTOMATON, might_hold_secrets
from collector.sensitive import (
    CARD_CANDIDATE,
    MAX_ID_TOKEN,
    SENSITIVE_KEY,
    URL_USERINFO,
    luhn_valid,
)

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
ID_CHARS = HEX | {"-"}
# Fields that hold trace, span and event ids (events, span v2 entries, log entries, and the
# attributes that repeat them), which Relay types as ids and never scrubs. An id of 16 or 32
# hex digits may be all decimal digits, and Luhn-valid (about one random span id in 18,500):
# masked as a card, the span was dropped as invalid after its envelope had been acknowledged.
ID_FIELDS = frozenset(
    {"trace_id", "span_id", "parent_span_id", "segment_id", "event_id", "sentry.segment.id",
     "sentry.trace.parent_span_id"}
)  # fmt: skip
__all__ = ["FILTERED", "Scrubber", "luhn_valid"]


def _is_id(key: object, value: object) -> bool:
    """Whether `value`, under `key`, is a hex id: bare, or a typed attribute holding nothing
    else (`{"value": "…", "type": "string"}`)."""
    if key not in ID_FIELDS:
        return False
    if isinstance(value, dict):
        if value.keys() - {"value", "type"} or value.get("type", "string") != "string":
            return False
        value = value.get("value")
    return isinstance(value, str) and len(value) in (16, 32) and all(c in HEX for c in value)


def _token_around(text: str, start: int, end: int) -> tuple[int, int]:
    """The letters and digits around text[start:end], at most MAX_ID_TOKEN either side (a
    longer token is no id, and the bound keeps many candidates in one token linear)."""
    low, high = max(0, start - MAX_ID_TOKEN), min(len(text), end + MAX_ID_TOKEN)
    while start > low and text[start - 1].isalnum():
        start -= 1
    while end < high and text[end].isalnum():
        end += 1
    return start, end


def _hex_group(text: str, index: int, step: int) -> bool:
    """Whether a group of hex digits runs from text[index] (backwards with step -1) to a
    character that is no letter or digit: the neighbour of a dashed id such as a UUID."""
    for count in range(MAX_ID_TOKEN):
        if not 0 <= index < len(text) or not text[index].isalnum():
            return count > 0
        if text[index] not in HEX:
            return False
        index += step
    return False


class _CardMasker:
    """The `re.sub` callback for card candidates in one text. Candidates in one token share
    its verdict, so a token holding thousands of them is read once."""

    def __init__(self) -> None:
        self.token_end = -1
        self.token_is_id = False

    def __call__(self, match: re.Match[str]) -> str:
        # Full-width and other Unicode digits count as their value (`\d` matches them).
        text = match.group(0)
        digits = (
            text
            if text.isascii() and text.isdigit()
            else "".join(str(unicodedata.decimal(char)) for char in text if char.isdecimal())
        )
        if not luhn_valid(digits) or self._is_identifier(match.string, *match.span()):
            return match.group(0)
        return "*" * (len(digits) - 4) + digits[-4:]

    def _is_identifier(self, text: str, start: int, end: int) -> bool:
        """Whether the digits at text[start:end] are part of an id rather than a card number:
        a dashed id such as a UUID (`…-46b2-4111-111111111111`), or a hex token
        (`4111111111111111abcdef…`). Digits glued to other letters are a card."""
        before = text[start - 1] if start > 0 else ""
        after = text[end] if end < len(text) else ""
        if before == "-" and _hex_group(text, start - 2, -1):
            return True
        if after == "-" and _hex_group(text, end + 1, 1):
            return True
        if not (before.isalpha() or after.isalpha()):
            return False
        if start >= self.token_end:
            token_start, token_end = _token_around(text, start, end)
            self.token_end = token_end
            token = text[token_start:token_end]
            # The dashes a candidate spans are part of the id it sits in: in
            # `149e723d-b480-4153-8101-07eea3c83fc2` the digits `480-4153-8101-07` are
            # Luhn-valid, and the UUID around them is an order ID, not a card.
            self.token_is_id = len(token) < (end - start) + MAX_ID_TOKEN and all(
                char in ID_CHARS for char in token
            )
        return self.token_is_id


def _masked_value(value: str) -> str:
    """A secret value replaced, its quotes kept so that JSON in a string stays JSON."""
    if value.startswith('\\"'):
        return f'\\"{FILTERED}\\"'
    if value[:1] in ("'", '"'):
        return f"{value[0]}{FILTERED}{value[0]}"
    return FILTERED


def _sensitive_words(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each sensitive word, in order of their ends. ASCII text (nearly all)
    goes through the raw look's automaton, several times faster than the alternation; other
    text through the alternation, whose IGNORECASE folds the long s and the Kelvin sign."""
    if text.isascii():
        for end, length in SENSITIVE_AUTOMATON.iter(text.lower()):
            yield end - length + 1, end + 1
    else:
        for word in SENSITIVE_KEY.finditer(text):
            yield word.start(), word.end()


def _mask_secrets(text: str) -> str:
    """`password=…`, `access_token: …`, `"client_secret": "…"`, `Authorization: Bearer …`
    and a bare `Bearer …`. One pass over the sensitive words; after each, the key's tail is
    read once and the scan resumes beyond it, so a long key full of sensitive words costs
    its length, not its length times its words."""
    pieces: list[str] = []
    copied = resume = 0
    for word_start, word_end in _sensitive_words(text):
        if word_start < resume:
            continue
        tail = KEY_TAIL.match(text, word_end)
        resume = tail.end() if tail else word_end
        found = SEPARATOR_VALUE.match(text, resume)
        if found is not None:
            start, end, masked = found.start(2), found.end(2), _masked_value(found.group(2))
        elif text[word_start:word_end].lower() == "bearer" and resume == word_end:
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


def _mask_url_credentials(text: str) -> str:
    pieces: list[str] = []
    copied = 0
    at = text.find("://")
    while at != -1:
        found = URL_USERINFO.match(text, at + 3)
        if found is not None:
            pieces += (text[copied : found.start(2)], FILTERED)
            copied = found.end(2)
        at = text.find("://", found.end() if found else at + 3)
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
            value = CARD_CANDIDATE.sub(_CardMasker(), value)
        value = _mask_secrets(value)
        if "://" in value:
            value = _mask_url_credentials(value)
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
                else v
                if _is_id(k, v)
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
