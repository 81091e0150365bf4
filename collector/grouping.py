"""Grouping events into issues, as Sentry's default grouping does (docs/protocol.md#grouping)."""

import hashlib
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from collector.limits import MAX_SCANNED_TEXT

CONTEXT_LINE_PLATFORMS = frozenset({"python", "javascript", "node", "php", "ruby"})
DEFAULT_MARKERS = frozenset({"{{ default }}", "{{default}}"})

# Message fallback: variable parts are replaced so that one template makes one issue.
# Every pattern runs in time linear in the text (README, Ingestion: Limits): a match can start
# only where a run of its first characters starts, or its unbounded parts are bounded, so no
# start position rescans a long run (an unanchored `[\w.+-]+@` made a 50,000-character
# message take seconds). They see at most MAX_SCANNED_TEXT characters.
_MESSAGE_PARAMETERS = [
    (re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (re.compile(r"\b[a-z][a-z0-9+.-]{0,31}://[^\s\]\)\"'>]+", re.I), "<url>"),
    (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), "<ip>"),
    (
        re.compile(r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b", re.I),
        "<uuid>",
    ),
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
            r"(?:Z|[+-]\d{2}:?\d{2})?)?\b"
        ),
        "<date>",
    ),
    (re.compile(r"\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b", re.I), "<hex>"),
    (re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])"), "<int>"),
]


def normalize_message(text: str) -> str:
    text = "\n".join(text[:MAX_SCANNED_TEXT].splitlines()[:2])
    for pattern, replacement in _MESSAGE_PARAMETERS:
        text = pattern.sub(replacement, text)
    return text


def _frame_values(frame: Mapping[str, Any], platform: str | None) -> list[str]:
    values: list[str] = []
    module = frame.get("module")
    filename = frame.get("filename") or frame.get("abs_path")
    if isinstance(module, str) and module:
        values.append(module)
    elif isinstance(filename, str) and filename:
        # Browser frames name URLs: `app.js?v=2#x` is the same file as `app.js`.
        path = filename.split("?", 1)[0].split("#", 1)[0]
        values.append(posixpath.basename(path.replace("\\", "/")).lower())
    function = frame.get("function")
    if isinstance(function, str) and function.strip() and function != "?":
        values.append(function.strip())
    context_line = frame.get("context_line")
    if platform in CONTEXT_LINE_PLATFORMS and isinstance(context_line, str):
        collapsed = " ".join(context_line.split())
        if collapsed and len(collapsed) <= 120:
            values.append(collapsed)
    return values


def frames_of(container: Any) -> list[Mapping[str, Any]]:
    if isinstance(container, dict):
        frames = container.get("frames")
        if isinstance(frames, list):
            return [f for f in frames if isinstance(f, dict)]
    return []


def _stacktrace_values(
    frames: Sequence[Mapping[str, Any]], platform: str | None, app_only: bool
) -> list[str]:
    values: list[str] = []
    previous: list[str] | None = None
    for frame in frames:
        if app_only and frame.get("in_app") is not True:
            continue
        current = _frame_values(frame, platform)
        if current and current != previous:  # recursion: a frame equal to the last is skipped
            values.extend(current)
        previous = current
    return values


def default_components(
    exceptions: Sequence[Mapping[str, Any]],
    stacktrace: Any,
    message_template: str,
    platform: str | None,
) -> list[str]:
    """Precedence: exceptions (with their stack traces) > a bare stack trace > the message."""
    if exceptions:
        all_frames = [frames_of(exc.get("stacktrace")) for exc in exceptions]
        app_only = any(f.get("in_app") is True for frames in all_frames for f in frames)
        values: list[str] = []
        has_stack = any(all_frames)
        for exc, frames in zip(exceptions, all_frames, strict=True):
            exc_type = exc.get("type")
            if isinstance(exc_type, str) and exc_type:
                values.append(exc_type)
            if has_stack:
                values.extend(_stacktrace_values(frames, platform, app_only))
            elif isinstance(exc.get("value"), str):
                values.append(exc["value"])
        if values:
            return values
    frames = frames_of(stacktrace)
    if frames:
        app_only = any(f.get("in_app") is True for f in frames)
        values = _stacktrace_values(frames, platform, app_only)
        if values:
            return values
    if message_template:
        return [normalize_message(message_template)]
    return []


def grouping_hash(fingerprint: Any, default: Sequence[str], fallback: Iterable[str]) -> str:
    """MD5 of the contributing values fed in sequence, with no separator."""
    values: list[str] = list(default)
    if (
        isinstance(fingerprint, list)
        and fingerprint
        and all(
            isinstance(part, str | int | float) and not isinstance(part, bool)
            for part in fingerprint
        )
    ):
        values = []
        for part in fingerprint:
            if isinstance(part, str) and part.strip() in DEFAULT_MARKERS:
                values.extend(default)
            else:
                values.append(str(part))
    if not values:
        values = list(fallback)
    digest = hashlib.md5(usedforsecurity=False)
    for value in values:
        digest.update(value.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()
