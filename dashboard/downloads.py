"""Attachments served as downloads, never rendered: whatever the client said the file is, the
answer is `application/octet-stream` with `nosniff`, a sandboxing CSP, and a
`Content-Disposition: attachment` whose names carry no path and no quote, so a stored
`<script>.html` or `../../etc/passwd` is a file to save, not a page or a path.
"""

import re
import unicodedata
from urllib.parse import quote

from fastapi.responses import Response

from reads.attachments import AttachmentFile

UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9._-]")
MAX_NAME = 150


def download_name(filename: str) -> str:
    """The last path component, control characters dropped; "attachment" when nothing is
    left (a name of only dots or separators)."""
    base = re.split(r"[\\/]", filename)[-1]
    kept = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return kept.strip(".")[:MAX_NAME] or "attachment"


def content_disposition(filename: str) -> str:
    """`attachment`, an ASCII `filename` for old clients and the UTF-8 `filename*` (RFC 6266,
    RFC 5987: every byte outside the unreserved set percent-encoded)."""
    name = download_name(filename)
    fallback = UNSAFE_ASCII.sub("_", name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def attachment_url(event_id: str, filename: str) -> str:
    """The API route that downloads it: the name percent-encoded, dots too, since clients drop
    a `..` path segment before sending."""
    name = quote(filename, safe="").replace(".", "%2E")
    return f"/api/v1/events/{quote(event_id, safe='')}/attachments/{name}"


def download(file: AttachmentFile) -> Response:
    return Response(
        content=file.data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": content_disposition(file.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, no-store",
        },
    )
