"""A look at a JSON document's raw text for anything the scrubber would change.

Scrubbing walks every value of an event, which costs more than parsing it; most events hold
nothing to scrub, and their raw text shows it. The look is conservative: it answers "maybe"
wherever the walk could act (a card-like digit run, a sensitive word inside a key, as the
first of a [key, value] pair, or before a `=` or `:`), and "no" only where the walk would
return the document unchanged (tests/collector/test_scrub.py checks this property).
"""

import re

import ahocorasick

from collector.sensitive import CARD_CANDIDATE, SENSITIVE_WORDS

# Every sensitive word found in one pass over the text (a regex alternation is several
# times slower over a whole event).
SENSITIVE_AUTOMATON = ahocorasick.Automaton(ahocorasick.STORE_LENGTH)
for _word in SENSITIVE_WORDS:
    SENSITIVE_AUTOMATON.add_word(_word)
SENSITIVE_AUTOMATON.make_automaton()
CARD_CANDIDATE_RAW = re.compile(CARD_CANDIDATE.pattern.encode())
NON_ASCII = re.compile(r"[^\x00-\x7f]")
UNICODE_ESCAPE = re.compile(rb"\\u([0-9a-f]{4})")
# Any other JSON escape stands for a character that is neither a word character nor a card
# separator: read as a space, the raw text matches wherever the decoded text does.
JSON_ESCAPE = re.compile(rb"\\.")
THIRTEEN_DIGITS = b"#" * 13
# For spotting card-like runs: digits become "#", separators "s", everything else ".".
CARD_CLASSES = bytes(
    ord("#") if 48 <= b <= 57 else ord("s") if chr(b) in " -" else ord(".") for b in range(256)
)
DIGIT_CLASSES = bytes(ord("#") if 48 <= b <= 57 else ord(".") for b in range(256))


def might_hold_secrets(payload: bytes) -> bool:
    if not payload.isascii():
        text = payload.decode("utf-8", "replace")
        if any(_reads_as_ascii(char) for char in set(NON_ASCII.findall(text))):
            return True
        payload = NON_ASCII.sub(" ", text).encode()
    raw = payload.lower()
    if b"\\" in raw:
        if b"\\u" in raw:
            escaped = {chr(int(code, 16)) for code in UNICODE_ESCAPE.findall(raw)}
            if any(_reads_as_ascii(char) for char in escaped if not char.isascii()):
                return True
            raw = UNICODE_ESCAPE.sub(_unescaped, raw)
        raw = JSON_ESCAPE.sub(b" ", raw)
    return _holds_card_candidate(raw) or any(
        _placed_sensitively(raw, end - length + 1, end + 1)
        for end, length in SENSITIVE_AUTOMATON.iter(raw.decode())
    )


def _reads_as_ascii(char: str) -> bool:
    """A non-ASCII character that the walk's patterns could read as a letter or digit of a
    secret: one whose case folds to ASCII (the long s and the Kelvin sign, under IGNORECASE),
    or a digit."""
    return char.isdigit() or char.upper().isascii() or char.lower().isascii()


def _unescaped(match: re.Match[bytes]) -> bytes:
    """An escaped ASCII letter, digit, `_` or `-` as itself; anything else as a space."""
    char = chr(int(match.group(1), 16))
    return char.lower().encode() if char.isascii() and (char.isalnum() or char in "_-") else b" "


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
        # One character of context either side, for the pattern's look-behind and -ahead.
        if CARD_CANDIDATE_RAW.search(raw[max(0, start - 1) : end + 1]):
            return True
        at = classes.find(THIRTEEN_DIGITS, end)
    return False


def _placed_sensitively(raw: bytes, start: int, end: int) -> bool:
    """Whether the sensitive word at raw[start:end] sits where the walk would act on it.
    Outside strings JSON holds no words, so it is inside a string."""
    closing = raw.find(b'"', end)
    opening = raw.rfind(b'"', 0, start)
    return (
        _next_char(raw, closing + 1) == b":"  # the string is a key
        or _previous_char(raw, opening) == b"["  # the first of a list: maybe a [key, value]
        or _next_char(raw, end) in (b"=", b":")  # `token=…` in text
    )


def _next_char(raw: bytes, index: int) -> bytes:
    while index < len(raw) and raw[index] in b" \t\r\n":
        index += 1
    return raw[index : index + 1]


def _previous_char(raw: bytes, index: int) -> bytes:
    index -= 1
    while index >= 0 and raw[index] in b" \t\r\n":
        index -= 1
    return raw[index : index + 1] if index >= 0 else b""
