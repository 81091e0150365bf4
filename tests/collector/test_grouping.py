import hashlib
import re
import time

import pytest

from collector import grouping
from collector.grouping import default_components, grouping_hash, normalize_message
from collector.limits import MAX_SCANNED_TEXT

FRAMES = [
    {"module": "shop.order", "function": "place", "in_app": True, "context_line": "  pay( x )"},
    {"module": "httpx", "function": "send", "in_app": False},
    {"module": "shop.order", "function": "place", "in_app": True, "context_line": "  pay( x )"},
]


def test_exception_with_stack_uses_type_and_in_app_frames() -> None:
    exc = {"type": "ValueError", "value": "order 1 failed", "stacktrace": {"frames": FRAMES}}
    values = default_components([exc], None, "", "python")
    # the repeated frame is skipped; the system frame does not count in the app variant
    assert values == ["ValueError", "shop.order", "place", "pay( x )"]


def test_value_counts_only_without_a_stack() -> None:
    assert default_components([{"type": "E", "value": "v"}], None, "", "python") == ["E", "v"]


def test_same_error_different_message_same_hash() -> None:
    def hash_of(value: str) -> str:
        exc = {"type": "ValueError", "value": value, "stacktrace": {"frames": FRAMES}}
        return grouping_hash(None, default_components([exc], None, "", "python"), ["t"])

    assert hash_of("order 1 failed") == hash_of("order 2 failed")


def test_hash_is_md5_of_values_without_separator() -> None:
    assert grouping_hash(None, ["a", "b"], []) == hashlib.md5(b"ab").hexdigest()


def test_fingerprint_with_default_marker() -> None:
    default = ["ValueError", "place"]
    assert (
        grouping_hash(["{{ default }}", "payment"], default, [])
        == hashlib.md5(b"ValueErrorplacepayment").hexdigest()
    )
    assert grouping_hash(["custom"], default, []) == hashlib.md5(b"custom").hexdigest()
    assert grouping_hash("not a list", default, []) == grouping_hash(None, default, [])


def test_message_parameters_are_replaced() -> None:
    message = (
        "validation successful for order [4f6b2a1c-3d5e-4f70-8a9b-0c1d2e3f4a5b] "
        "amount 12.50 by a@b.com from 10.0.0.1 at 2026-11-27T10:00:00Z ref deadbeef42"
    )
    assert normalize_message(message) == (
        "validation successful for order [<uuid>] amount <int> by <email> from <ip> at <date> "
        "ref <hex>"
    )
    assert normalize_message("line one\nline two\nline three") == "line one\nline two"


def test_message_patterns_see_capped_text_and_run_in_linear_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Finding 2: `[\\w.+-]+@` tried at every position of a 50,000-character word."""
    seen: list[int] = []

    class Spy:
        def __init__(self, pattern: re.Pattern[str]) -> None:
            self.pattern = pattern

        def sub(self, replacement: str, text: str) -> str:
            seen.append(len(text))
            return self.pattern.sub(replacement, text)

    monkeypatch.setattr(
        grouping,
        "_MESSAGE_PARAMETERS",
        [(Spy(p), r) for p, r in grouping._MESSAGE_PARAMETERS],
    )
    grouping.normalize_message("a" * (1024 * 1024))
    assert seen and max(seen) <= MAX_SCANNED_TEXT
    monkeypatch.undo()
    for text in ("a" * 50_000, "a." * 25_000, "1." * 25_000, "a@" * 25_000, "-1" * 25_000):
        started = time.perf_counter()
        for pattern, replacement in grouping._MESSAGE_PARAMETERS:
            pattern.sub(replacement, text)  # uncapped: the patterns themselves are linear
        assert time.perf_counter() - started < 0.5, text[:10]


def test_a_browser_file_name_groups_without_its_query_and_fragment() -> None:
    def components(filename: str) -> list[str]:
        frame = {"filename": filename, "function": "onClick", "in_app": True}
        exc = {"type": "TypeError", "value": "x is undefined", "stacktrace": {"frames": [frame]}}
        return default_components([exc], None, "", "javascript")

    plain = components("https://shop.example/static/index.html")
    assert plain == ["TypeError", "index.html", "onClick"]
    assert components("https://shop.example/static/index.html?x=1") == plain
    assert components("https://shop.example/static/index.html#top") == plain
    assert components("https://shop.example/static/INDEX.html?v=2#a") == plain
