"""How raw payloads are kept: zstd-compressed bytes (docs/decisions.md#3)."""

import threading

import zstandard

_local = threading.local()


def compress(data: bytes) -> bytes:
    # A compressor holds its context between calls; one per thread, since it is not shareable.
    compressor = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstandard.ZstdCompressor(level=1)
    return compressor.compress(data)


def decompress(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompress(data)
