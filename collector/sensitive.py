"""What counts as sensitive: the scrubber's patterns, shared with its raw-text look."""

import re

# Relay's @password key rule (password, secret, passwd, api_key/apikey, auth, credentials,
# private_key, token, session, …) and @creditcard key names, matched anywhere in a key, so
# `access_token`, `db_password`, `client_secret` and `X-Api-Key` are all sensitive.
SENSITIVE_WORDS = (
    "password", "passwd", "pwd", "secret", "api_key", "apikey", "api-key", "auth",
    "credentials", "private_key", "privatekey", "token", "bearer", "cookie", "csrf", "session",
    "cvv", "cvc", "ccv", "card_number", "cardnumber", "creditcard", "security_code",
    "securitycode",
)  # fmt: skip
SENSITIVE_KEY = re.compile("|".join(re.escape(word) for word in SENSITIVE_WORDS), re.IGNORECASE)
# 13 to 19 digits, optionally grouped by single spaces or dashes, or 4.4.4.x with dots; not
# part of a longer digit run. Letters may touch it (`abc4111111111111111xyz`): the scrubber
# then tells hex ids and dashed ids (UUIDs) apart from glued card numbers.
CARD_CANDIDATE = re.compile(
    r"(?<!\d)(?<!\d[ -])\d(?:[ -]?\d){12,18}(?!\d)(?![ -]\d)"
    r"|(?<![\d.])\d{4}\.\d{4}\.\d{4}\.\d{1,7}(?![\d.])"
)
# Relay's URL-credentials rule: `scheme://user:password@host` loses the password. Matched
# only right after each `://` (found with str.find), so each look runs to the next `/`, `:`
# or `@` and the whole costs the length of the text.
URL_USERINFO = re.compile(r"([^\s/:@]*:)([^\s/@]+)@")
# A hex id is at most this long (a SHA-256 is 64): digits inside a longer token are a card.
MAX_ID_TOKEN = 128


def luhn_valid(digits: str) -> bool:
    """The card-number checksum, over ASCII digits."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0
