"""Finding 1 (format bomb), finding 4 (nesting) and finding 5 (issue id in the API path),
at unit level; tests/e2e/test_hostile_input.py sends the same against a real server."""

import asyncio
import time
from typing import Any

import httpx
import orjson
import pytest

from collector.enrichment import Enricher, issue_path
from collector.formatting import format_params
from collector.limits import MAX_DEPTH, MAX_FORMATTED, TRIMMED, bound_depth
from collector.parsers import parse_json_document


def test_format_widths_are_clamped_and_output_capped() -> None:
    started = time.perf_counter()
    out = format_params("%(a)100000000s" * 20, {"a": "x"})
    assert out == (" " * 31 + "x") * 20  # the width clamped to MAX_FORMAT_WIDTH, not dropped
    assert format_params("%*s", [10**9, "y"]).strip() == "y"
    assert len(format_params("%.100000000f", [1.5])) < 64
    assert len(format_params("%s" * 100_000, [""] * 100_000)) <= MAX_FORMATTED
    assert time.perf_counter() - started < 0.5
    # Ordinary templates format as Python's % does; misfits keep the template.
    assert format_params("%5.2f|%-4s|%03d|%x", [3.14159, "ab", 7, 255]) == " 3.14|ab  |007|ff"
    assert format_params("%(who)s paid %(n)d", {"who": "ann", "n": 3}) == "ann paid 3"
    for template, params in (("%s %s", ["a"]), ("%s", ["a", "b"]), ("%c", [2**40]), ("%", [])):
        assert format_params(template, params) == template
    assert format_params("{:>100000000}", ["x"]) == "{:>100000000}"


def _nested(depth: int) -> bytes:
    """`depth` levels of objects, written by hand: orjson writes at most 254."""
    return b'{"a":' * (depth - 1) + b'{"password":"x"}' + b"}" * (depth - 1)


@pytest.mark.parametrize("depth", [MAX_DEPTH, MAX_DEPTH + 1, 300, 1000])
def test_depth_is_bounded_where_documents_are_read(depth: int) -> None:
    raw = _nested(depth)
    value, stored = parse_json_document(raw, "event")
    assert orjson.loads(stored) == value
    if depth <= MAX_DEPTH:
        assert stored is raw
    else:
        assert TRIMMED.encode() in stored
        assert orjson.dumps(value)  # orjson writes at most 254 levels: a page could not


def test_bound_depth_keeps_shallow_documents_as_sent() -> None:
    doc = {"a": [{"b": 1}] * 100}
    raw = orjson.dumps(doc)
    assert bound_depth(doc, raw) == (doc, raw)


def test_issue_ids_are_digits_before_they_reach_the_api_path() -> None:
    assert issue_path("1170820242") == "/api/0/issues/1170820242/events/latest/"
    for bad in ("../../admin", "1/../2", "1?x=1", "1#", "", "\u0661", "1" * 21, "12 3"):
        assert issue_path(bad) is None, bad


def test_the_enricher_requests_nothing_for_a_bad_issue_id() -> None:
    requested: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(request.url.path)
        return httpx.Response(404)

    async def run() -> None:
        async def store(_event: dict[str, Any], _project: str) -> None:
            return None

        enricher = Enricher(api_url="http://sentry.invalid", token="t", store=store)
        enricher._client = httpx.AsyncClient(
            base_url="http://sentry.invalid", transport=httpx.MockTransport(handler)
        )
        enricher.schedule("../../../api/0/organizations/", "p")
        enricher.schedule("42", "p")
        await asyncio.gather(*enricher._tasks)
        await enricher.close()

    asyncio.run(run())
    assert requested == ["/api/0/issues/42/events/latest/"]
