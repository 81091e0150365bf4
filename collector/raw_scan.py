"""A look at a JSON document's raw text for anything the scrubber would change.

Scrubbing walks every value of an event, which costs more than parsing it; most events hold
nothing to scrub, and their raw text shows it. The look is conservative: it answers "maybe"
wherever the walk could act (a card-like digit run, a sensitive word inside a key, as the
first of a [key, value] pair, or before a `=` or `:` (past the rest of its key and a quote),
the word `bearer`, a `://` followed by `user:password@`), and "no" only where the walk would
return the document unchanged (tests/collector/test_scrub.py checks this property).

The raw text is read with the same classes of characters the walk's patterns see: an escape
or a non-ASCII character becomes `_` (neither a digit nor a card separator, but part of a
key), except escapes of printable ASCII, which become themselves.
"""

import re

import ahocorasick

from collector.sensitive import CARD_CANDIDATE, MAX_ID_TOKEN, SENSITIVE_WORDS, luhn_valid

# Every sensitive word found in one pass over the text (a regex alternation is several
# times slower over a whole event).
SENSITIVE_AUTOMATON = ahocorasick.Automaton(ahocorasick.STORE_LENGTH)
for _word in SENSITIVE_WORDS:
    SENSITIVE_AUTOMATON.add_word(_word)
SENSITIVE_AUTOMATON.make_automaton()
CARD_CANDIDATE_RAW = re.compile(CARD_CANDIDATE.pattern.encode())
USERINFO_RAW = re.compile(rb"[^\s/:@]*:[^\s/@]+@")
JOINERS_RUN = re.compile(rb"[a-z0-9_\-'\"\\\s]*")
NON_ASCII = re.compile(r"[^\x00-\x7f]")
UNICODE_ESCAPE = re.compile(rb"\\u([0-9a-f]{4})")
# `\uXXXX` first (as its character), then any other escape: `\/` is `/`, the rest (quotes,
# backslashes, control characters) `_`.
JSON_ESCAPE = re.compile(rb"\\(?:u([0-9a-f]{4})|(.))", re.DOTALL)
THIRTEEN_DIGITS = b"#" * 13
# For spotting card-like runs: digits become "#", separators "s", everything else ".".
CARD_CLASSES = bytes(
    ord("#") if 48 <= b <= 57 else ord("s") if chr(b) in " -" else ord(".") for b in range(256)
)
DIGIT_CLASSES = bytes(ord("#") if 48 <= b <= 57 else ord(".") for b in range(256))
# For 4111.1111.1111.1111: digits "#", dots themselves, everything else "x".
DOTTED_CLASSES = bytes(
    ord("#") if 48 <= b <= 57 else ord(".") if b == ord(".") else ord("x") for b in range(256)
)
DOTTED_CARD = b"####.####.####.#"
FOLDS_TO_ASCII = re.compile(r"[a-z]", re.IGNORECASE)


def might_hold_secrets(payload: bytes) -> bool:
    if not payload.isascii():
        text = payload.decode("utf-8", "replace")
        if any(_reads_as_ascii(char) for char in set(NON_ASCII.findall(text))):
            return True
        payload = NON_ASCII.sub("_", text).encode()
    raw = payload.lower()
    if b"\\" in raw:
        if b"\\u" in raw:
            escaped = {chr(int(code, 16)) for code in UNICODE_ESCAPE.findall(raw)}
            if any(_reads_as_ascii(char) for char in escaped if not char.isascii()):
                return True
        raw = JSON_ESCAPE.sub(_unescaped, raw)
    return (
        _holds_card_candidate(raw)
        or DOTTED_CARD in raw.translate(DOTTED_CLASSES)
        or _holds_url_credentials(raw)
        or _holds_placed_word(raw)
    )


def _reads_as_ascii(char: str) -> bool:
    """A non-ASCII character that the walk's patterns could read as a letter or digit of a
    secret: one whose case folds to ASCII (the long s, the Kelvin sign, the dotted and dotless
    i, under IGNORECASE), or a digit."""
    return (
        char.isdigit()
        or char.upper().isascii()
        or char.lower().isascii()
        or FOLDS_TO_ASCII.match(char) is not None
    )


def _unescaped(match: re.Match[bytes]) -> bytes:
    """An escape as the character the walk sees, in the class its patterns give it: printable
    ASCII other than quote and backslash as itself, anything else as `_`."""
    code, char = match.group(1), match.group(2)
    if code is not None:
        decoded = chr(int(code, 16))
        if decoded.isascii() and decoded.isprintable() and decoded not in '"\\':
            return decoded.lower().encode()
        return b"_"
    return b"/" if char == b"/" else b"_"


def _hex_group(raw: bytes, index: int, step: int) -> bool:
    """scrub._hex_group over raw text, where `_` (an escape or non-ASCII character, which
    may be a letter) ends no group: the walk might see a longer, non-hex one."""
    for count in range(MAX_ID_TOKEN):
        char = raw[index : index + 1] if index >= 0 else b""
        if char == b"_":
            return False
        if not char.isalnum():
            return count > 0
        if char not in b"0123456789abcdef":
            return False
        index += step
    return False


def _holds_url_credentials(raw: bytes) -> bool:
    """`://` followed by `user:password@`, as the walk finds it (sensitive.URL_USERINFO).
    Each look runs from one `://` to the next `/`, `:` or `@`: linear in the text."""
    at = raw.find(b"://")
    while at != -1:
        if USERINFO_RAW.match(raw, at + 3):
            return True
        at = raw.find(b"://", at + 3)
    return False


def _holds_card_candidate(raw: bytes) -> bool:
    """Whether the text holds a card candidate. The candidate pattern is slow over a whole
    event, so it runs only around runs of 13 digits with at most one separator between two,
    which every candidate holds (the classes keep raw's positions)."""
    # First the cheap look: with separators dropped, every candidate is 13 digits in a row.
    if THIRTEEN_DIGITS not in raw.translate(DIGIT_CLASSES, b" -"):
        return False
    classes = raw.translate(CARD_CLASSES)
    for _ in range(3):  # each pass joins every other "#s#"; three leave none unjoined
        classes = classes.replace(b"#s#", b"###")
    at = classes.find(THIRTEEN_DIGITS)
    while at != -1:
        start, end = at, at + len(THIRTEEN_DIGITS)
        while start > 0 and classes[start - 1] in b"#s":
            start -= 1
        while end < len(classes) and classes[end] in b"#s":
            end += 1
        # Two characters of context either side, for the pattern's look-behinds and -aheads.
        offset = max(0, start - 2)
        for match in CARD_CANDIDATE_RAW.finditer(raw[offset : end + 2]):
            if _card_to_mask(raw, offset + match.start(), offset + match.end()):
                return True
        at = classes.find(THIRTEEN_DIGITS, end)
    return False


def _card_to_mask(raw: bytes, start: int, end: int) -> bool:
    """Whether the walk would mask the candidate at raw[start:end]: its digits are the walk's
    digits (other digits sent the document to the walk already), so Luhn is decided here;
    ids the walk keeps (scrub._is_identifier) are kept only where raw shows the same
    characters around them, never across an `_` (an escape or non-ASCII: unknown)."""
    if not luhn_valid(bytes(b for b in raw[start:end] if 48 <= b <= 57).decode()):
        return False
    before = raw[start - 1 : start] if start > 0 else b""
    after = raw[end : end + 1]
    if before == b"-" and _hex_group(raw, start - 2, -1):
        return False
    if after == b"-" and _hex_group(raw, end + 1, 1):
        return False
    if before.isalpha() or after.isalpha():
        low, high = max(0, start - MAX_ID_TOKEN), min(len(raw), end + MAX_ID_TOKEN)
        digits = end - start
        while start > low and raw[start - 1 : start].isalnum():
            start -= 1
        while end < high and raw[end : end + 1].isalnum():
            end += 1
        token = raw[start:end]
        unknown_edge = raw[start - 1 : start] == b"_" or raw[end : end + 1] == b"_"
        too_long = len(token) >= digits + MAX_ID_TOKEN  # as the walk: no id, a card
        # As the walk: the dashes the candidate spans are part of the id (a UUID).
        return unknown_edge or too_long or token.strip(b"0123456789abcdef-") != b""
    return True


def _holds_placed_word(raw: bytes) -> bool:
    """Whether a sensitive word sits where the walk would act on it: in a key, first in a
    list (maybe a [key, value] pair), before the `=` or `:` of `key=value` in text (past the
    rest of its key, quotes, backslashes and whitespace), or `bearer` anywhere. Outside
    strings JSON holds no words, so each word is inside a string. Each string is looked at
    once and each run after a word read once, however many words it holds (a message of
    `password` 6,000 times), so the look stays linear."""
    closing = joined_until = -1
    for end, length in SENSITIVE_AUTOMATON.iter(raw.decode()):
        start, stop = end - length + 1, end + 1
        if start > closing:  # the first word of this string
            closing = raw.find(b'"', stop)
            closing = len(raw) if closing == -1 else closing
            opening = raw.rfind(b'"', 0, start)
            if _next_char(raw, closing + 1) == b":" or _previous_char(raw, opening) == b"[":
                return True
        if raw[start:stop] == b"bearer":
            return True
        if stop > joined_until:
            match = JOINERS_RUN.match(raw, stop)
            joined_until = match.end() if match else stop
            if raw[joined_until : joined_until + 1] in (b"=", b":"):
                return True
    return False


def _next_char(raw: bytes, index: int) -> bytes:
    while index < len(raw) and raw[index] in b" \t\r\n":
        index += 1
    return raw[index : index + 1]


def _previous_char(raw: bytes, index: int) -> bytes:
    index -= 1
    while index >= 0 and raw[index] in b" \t\r\n":
        index -= 1
    return raw[index : index + 1] if index >= 0 else b""
