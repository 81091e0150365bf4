"""What the journey page shows of each event's raw payload: exception chain with frames and
their code lines (as Sentry shows the snippet), breadcrumbs, tags. Read defensively: the payload
is whatever an SDK (or an attacker) sent."""

from dataclasses import dataclass, field
from typing import Any

import orjson

from store.models import Event
from store.payload import decompress

MAX_FRAMES = 12
MAX_CRUMBS = 30


@dataclass
class Frame:
    where: str
    function: str
    lineno: int | None
    in_app: bool
    before: list[str]
    line: str | None
    after: list[str]


@dataclass
class ExceptionInfo:
    type: str
    value: str
    frames: list[Frame]


@dataclass
class Crumb:
    timestamp: str
    category: str
    level: str
    message: str
    data: str


@dataclass
class Details:
    exceptions: list[ExceptionInfo] = field(default_factory=list)
    breadcrumbs: list[Crumb] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)


def _values(container: Any) -> list[dict[str, Any]]:
    if isinstance(container, dict):
        container = container.get("values")
    return [v for v in container if isinstance(v, dict)] if isinstance(container, list) else []


def _text(value: Any, limit: int = 2000) -> str:
    if value is None:
        return ""
    return (value if isinstance(value, str) else str(value))[:limit]


def _lines(value: Any) -> list[str]:
    return [_text(v, 300) for v in value[-5:]] if isinstance(value, list) else []


def details(event: Event) -> Details:
    try:
        payload = orjson.loads(decompress(event.payload))
    except (orjson.JSONDecodeError, ValueError):
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    found = Details(tags=sorted((str(k), str(v)) for k, v in (event.tags or {}).items()))
    for exc in _values(payload.get("exception")):
        frames = []
        stack = exc.get("stacktrace")
        for frame in _values(stack.get("frames") if isinstance(stack, dict) else None)[
            -MAX_FRAMES:
        ]:
            lineno = frame.get("lineno")
            frames.append(
                Frame(
                    where=_text(frame.get("filename") or frame.get("module") or "?", 300),
                    function=_text(frame.get("function") or "?", 200),
                    lineno=lineno if isinstance(lineno, int) else None,
                    in_app=frame.get("in_app") is True,
                    before=_lines(frame.get("pre_context")),
                    line=_text(frame.get("context_line"), 300) or None,
                    after=_lines(frame.get("post_context"))[:5],
                )
            )
        frames.reverse()  # most recent call first, as Sentry shows them
        found.exceptions.append(
            ExceptionInfo(_text(exc.get("type") or "Error", 200), _text(exc.get("value")), frames)
        )
    found.exceptions.reverse()
    for crumb in _values(payload.get("breadcrumbs"))[-MAX_CRUMBS:]:
        data = crumb.get("data")
        found.breadcrumbs.append(
            Crumb(
                timestamp=_text(crumb.get("timestamp"), 40),
                category=_text(crumb.get("category"), 100),
                level=_text(crumb.get("level") or "info", 20),
                message=_text(crumb.get("message"), 500),
                data=orjson.dumps(data).decode()[:1000] if isinstance(data, dict) and data else "",
            )
        )
    return found
