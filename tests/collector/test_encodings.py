import gzip
import zlib

import brotli
import pytest
import zstandard

from collector.encodings import decode_body
from store.errors import BadRequest, PayloadTooLarge

BODY = b'{"message": "hello"}\n' * 100
ENCODED = {
    "gzip": gzip.compress(BODY),
    "x-gzip": gzip.compress(BODY),
    "deflate": zlib.compress(BODY),
    "br": brotli.compress(BODY),
    "zstd": zstandard.ZstdCompressor().compress(BODY),
}


@pytest.mark.parametrize("encoding", sorted(ENCODED))
def test_each_encoding_decodes(encoding: str) -> None:
    assert decode_body(ENCODED[encoding], encoding, 1 << 20) == BODY


def test_raw_deflate_is_accepted_too() -> None:
    compressor = zlib.compressobj(wbits=-15)
    raw = compressor.compress(BODY) + compressor.flush()
    assert decode_body(raw, "deflate", 1 << 20) == BODY


def test_unknown_encoding_is_identity() -> None:
    assert decode_body(BODY, "identity", 1 << 20) == BODY
    assert decode_body(BODY, None, 1 << 20) == BODY


@pytest.mark.parametrize("encoding", sorted(ENCODED))
def test_corrupt_or_truncated_bodies_are_400(encoding: str) -> None:
    with pytest.raises(BadRequest):
        decode_body(b"\x00garbage" * 10, encoding, 1 << 20)
    with pytest.raises(BadRequest):
        decode_body(ENCODED[encoding][: len(ENCODED[encoding]) // 2], encoding, 1 << 20)


@pytest.mark.parametrize("encoding", sorted(ENCODED))
def test_bombs_stop_at_the_cap(encoding: str) -> None:
    big = b"\x00" * (8 << 20)
    bomb = {
        "gzip": gzip.compress,
        "x-gzip": gzip.compress,
        "deflate": zlib.compress,
        "br": brotli.compress,
        "zstd": zstandard.ZstdCompressor().compress,
    }[encoding](big)
    with pytest.raises(PayloadTooLarge):
        decode_body(bomb, encoding, 1 << 20)


def test_zstd_concatenated_frames_decode_in_full() -> None:
    compressor = zstandard.ZstdCompressor()
    frames = compressor.compress(BODY) + compressor.compress(b"tail" * 300)
    assert decode_body(frames, "zstd", 1 << 20) == BODY + b"tail" * 300
