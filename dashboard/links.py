"""Stored URLs (a webhook's `web_url`, an issue's `external_url`) come from outside: one becomes
a link only when it is an absolute http(s) URL, never `javascript:`, `data:` or anything else."""

import re

# No whitespace or control characters anywhere: browsers drop them from a scheme, so that
# `java\tscript:` or a leading space would otherwise slip past a check of the prefix.
HTTP_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f/?#][^\s\x00-\x1f\x7f]*", re.IGNORECASE)


def http_link(url: object) -> str | None:
    """`url` when it is an http(s) URL that is safe in an href, else None."""
    if isinstance(url, str) and HTTP_URL.fullmatch(url):
        return url
    return None
