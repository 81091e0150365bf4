"""Content-Encoding of request bodies, decompressed under a cap.

Every decoder produces output in bounded steps, so a decompression bomb is refused as soon as it
passes the cap, without holding more than the cap in memory
(docs/protocol.md#encodings-and-size-caps).
"""

import zlib
from collections.abc import Iterator

import brotli
import zstandard

from store.errors import BadRequest, PayloadTooLarge

STEP = 256 * 1024
ENCODINGS = ("identity", "gzip", "x-gzip", "deflate", "br", "zstd")
ZSTD_SLICE = 256


def known_encoding(encoding: str | None) -> bool:
    """Whether decode_body decodes `encoding` (a single one: no list such as `gzip, gzip`);
    the envelope endpoint reads any other as identity, as Sentry SDKs expect."""
    return (encoding or "identity").strip().lower() in ENCODINGS


def decode_body(body: bytes, encoding: str | None, limit: int) -> bytes:
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        chunks = _zlib_chunks(body, zlib.MAX_WBITS | 16, "gzip")
    elif encoding == "deflate":
        # The HTTP spec says zlib-wrapped; some clients send raw deflate. Accept both.
        raw = len(body) > 1 and (body[0] & 0x0F != 8 or (body[0] << 8 | body[1]) % 31 != 0)
        chunks = _zlib_chunks(body, -zlib.MAX_WBITS if raw else zlib.MAX_WBITS, "deflate")
    elif encoding == "br":
        chunks = _brotli_chunks(body)
    elif encoding == "zstd":
        chunks = _zstd_chunks(body)
    else:
        if len(body) > limit:
            raise PayloadTooLarge(f"body is larger than {limit} bytes")
        return body
    out = bytearray()
    for chunk in chunks:
        out += chunk
        if len(out) > limit:
            raise PayloadTooLarge(f"body decompresses to more than {limit} bytes")
    return bytes(out)


def _zlib_chunks(body: bytes, wbits: int, name: str) -> Iterator[bytes]:
    decoder = zlib.decompressobj(wbits)
    data = body
    try:
        while data:
            yield decoder.decompress(data, STEP)
            data = decoder.unconsumed_tail
            if decoder.eof:
                break
        if not decoder.eof:
            yield decoder.flush()
            raise BadRequest(f"{name} body is truncated")
    except zlib.error as exc:
        raise BadRequest(f"{name} body is corrupt: {exc}") from None


def _brotli_chunks(body: bytes) -> Iterator[bytes]:
    decoder = brotli.Decompressor()
    try:
        yield decoder.process(body, output_buffer_limit=STEP)
        while not decoder.is_finished():
            chunk = decoder.process(b"", output_buffer_limit=STEP)
            if not chunk and decoder.can_accept_more_data():
                raise BadRequest("br body is truncated")
            yield chunk
    except brotli.error as exc:
        raise BadRequest(f"br body is corrupt: {exc}") from None


def _zstd_chunks(body: bytes) -> Iterator[bytes]:
    # zstandard's decompressobj has no output bound, so input goes in small slices: one slice
    # can expand to a few MiB at most (RLE blocks of 128 KiB), which the caller's cap catches.
    position = 0
    try:
        while position < len(body):
            decoder = zstandard.ZstdDecompressor().decompressobj()
            while not decoder.eof and position < len(body):
                end = min(position + ZSTD_SLICE, len(body))
                yield decoder.decompress(body[position:end])
                position = end
            if not decoder.eof:
                raise BadRequest("zstd body is truncated")
            unused = decoder.unused_data  # the next frame starts here
            position -= len(unused)
    except zstandard.ZstdError as exc:
        raise BadRequest(f"zstd body is corrupt: {exc}") from None
