"""Mutation fuzzing of the ingest parsers: real payloads (what sentry-python sends, the webhook
deliveries sentry.io sends) with bytes flipped, cut, repeated and spliced, 10,000 inputs per
parser (README, Reliability: Fuzzing). Every input is answered with a value or a 4xx (a
SentrailError), never another exception. Seeded, so a failure names an input that reproduces.

tests/collector/test_fuzz.py generates structured inputs with hypothesis; this one starts from
real bytes, which reaches the deep paths (a valid envelope with one broken item) fast."""

import base64
import random
import zlib
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from bench import webhook_payloads as sp
from collector.parsers import parse_envelope, parse_store_body
from store.errors import SentrailError
from tests.collector.envelopes import recorded_envelopes
from tests.collector.readers import NOW, READER, read_webhook

INPUTS_PER_PARSER = 10_000
# Fragments that steer a mutant towards the interesting cases: structure, escapes, NUL,
# format widths, card-like and long digit runs, deep nesting, huge numbers.
SPLICES = [
    b"{", b"}", b"[", b"]", b'"', b"\\", b"\\u0000", b"\\ud800", b"\n", b",", b":", b"null",
    b"%(a)99999999s", b"%*.*f", b"4111111111111111", b"4111-1111-1111-1111", b"1" * 40,
    b"[" * 300, b'{"a":' * 100, b"1e999", b"-0", b"\xff\xfe", b"password=", b"Bearer x",
    b'"type":"event"', b'"length":99999', b'"length":-1', b"\xef\xbc\x94" * 16,
]  # fmt: skip


# Values a JSON-aware mutation puts in place of one value of a document.
VALUES: list[Any] = [
    None, True, -1, 2**64 - 1, -(2**63), 1e308, "", "\x00", "x" * 70_000, "%(a)99999999s %s %*d",
    "4111 1111 1111 1111", "password=hunter2", [[[[[[]]]]]], {"": {"": {"": None}}},
    [1] * 2000, {str(i): i for i in range(500)}, "\u2028", "١٢٣٤٥٦٧٨٩٠١٢٣٤", 1.5, [], {},
]  # fmt: skip


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON document, the document itself first."""
    found = [path]
    if isinstance(value, dict | list):
        for key, child in value.items() if isinstance(value, dict) else enumerate(value):
            found += _leaves(child, (*path, key))
    return found


def _replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return document


def json_mutant(seed: bytes, rng: random.Random) -> bytes | None:
    """One value of one JSON line replaced; item lengths dropped, so that an envelope stays
    well-formed and the mutant reaches the code behind the parser."""
    lines = seed.split(b"\n")
    documents = []
    for line in lines:
        try:
            documents.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            documents.append(None)
    for document in documents:
        if isinstance(document, dict):
            document.pop("length", None)
    candidates = [i for i, d in enumerate(documents) if isinstance(d, dict | list)]
    if not candidates:
        return None  # no JSON to change (a base64 store body): bytes are mutated instead
    at = rng.choice(candidates)
    path = rng.choice(_leaves(documents[at]))
    documents[at] = _replaced(documents[at], path, rng.choice(VALUES))
    return b"\n".join(
        line if document is None else orjson.dumps(document)
        for line, document in zip(lines, documents, strict=True)
    )


def mutants(seeds: list[bytes], count: int, seed: int) -> list[bytes]:
    """`count` mutants of the seeds, the same ones for the same `seed`: half with one JSON
    value replaced, half with bytes flipped, cut, repeated and spliced."""
    rng = random.Random(seed)
    found = []
    for index in range(count):
        if index % 2 and (mutant := json_mutant(rng.choice(seeds), rng)) is not None:
            found.append(mutant)
            continue
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data) + 1)
            operation = rng.randrange(6)
            if operation == 0 and data:  # flip a byte
                data[min(at, len(data) - 1)] = rng.randrange(256)
            elif operation == 1:  # cut a span
                del data[at : at + rng.randint(1, 64)]
            elif operation == 2:  # repeat a span
                data[at:at] = data[at : at + rng.randint(1, 64)] * rng.randint(2, 8)
            elif operation == 3:  # truncate
                del data[at:]
            else:  # splice a fragment in
                data[at:at] = rng.choice(SPLICES)
        found.append(bytes(data))
    return found


def read_envelope(body: bytes) -> None:
    READER.envelope(1, parse_envelope(body), NOW)


def read_store_body(body: bytes) -> None:
    event, raw = parse_store_body(body, 1024 * 1024)
    READER.normalize(
        event, raw, kind="event", received_at=NOW, fallback_event_id=None, scrubbed=False
    )


def envelope_seeds() -> list[bytes]:
    return recorded_envelopes()


def store_seeds() -> list[bytes]:
    events = [
        item.split(b"\n", 2)[1]
        for item in b"\n".join(recorded_envelopes()).split(b'{"type":"event"')[1:]
        if item.count(b"\n") >= 2
    ]
    return events + [base64.b64encode(zlib.compress(e)) for e in events]


def webhook_seeds() -> list[bytes]:
    return [sp.body_of(payload) for _, payload in sp.every_resource()]


PARSERS: dict[str, tuple[Callable[[bytes], None], Callable[[], list[bytes]]]] = {
    "envelope": (read_envelope, envelope_seeds),
    "store": (read_store_body, store_seeds),
    "webhook": (read_webhook, webhook_seeds),
}


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_mutated_real_payloads_get_a_value_or_a_4xx(name: str) -> None:
    read, seeds_of = PARSERS[name]
    seeds = seeds_of()
    assert seeds and all(seeds)
    read(seeds[0])  # the unmutated payload is read without complaint
    refused = 0
    for index, body in enumerate(mutants(seeds, INPUTS_PER_PARSER, seed=zlib.crc32(name.encode()))):
        try:
            read(body)
        except SentrailError as exc:
            assert 400 <= exc.status_code < 500, (index, body[:200])
            refused += 1
        except Exception as exc:  # pragma: no cover - what the test exists to catch
            pytest.fail(f"{name} mutant {index} raised {exc!r}: {body[:300]!r}")
    # Both ways are exercised: some mutants are refused, some still read.
    assert 0 < refused < INPUTS_PER_PARSER
