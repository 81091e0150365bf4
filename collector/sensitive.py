"""What counts as sensitive: the scrubber's patterns, shared with its raw-text look."""

import re

# Relay's @password and @creditcard key rules, matched anywhere in the key.
SENSITIVE_WORDS = (
    "password", "passwd", "pwd", "secret", "api_key", "apikey", "auth", "credentials",
    "private_key", "privatekey", "token", "cookie", "csrf", "session_id", "sessionid", "cvv",
    "cvc", "ccv", "card_number", "cardnumber", "creditcard", "security_code", "securitycode",
)  # fmt: skip
SENSITIVE_KEY = re.compile("|".join(SENSITIVE_WORDS), re.IGNORECASE)
# 13 to 19 digits, optionally grouped by spaces or dashes, not inside a longer word (hex ids).
CARD_CANDIDATE = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
