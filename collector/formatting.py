"""`logentry.message % logentry.params`, with the template and the params both from the event.

Python's `%` honours any width and precision, so `"%(a)100000000s"` in a 252-byte event
allocates 100 MB per conversion. Here each conversion is applied on its own with its width
and precision clamped to MAX_FORMAT_WIDTH (also `*`, taken from the params), and the output
stops at MAX_FORMATTED characters (README, Ingestion: Limits). Only `%`-style templates are
formatted, as before; `{}` placeholders are left as they are.
"""

import re
from collections.abc import Mapping
from typing import Any

from collector.limits import MAX_FORMAT_WIDTH, MAX_FORMATTED

# One conversion specifier: every part is bounded, so a match costs a bounded number of steps
# wherever it starts (mapping keys longer than 200 characters are not formatted).
CONVERSION = re.compile(
    r"%(?:\((?P<key>[^)]{0,200})\))?(?P<flags>[-+ #0]{0,8})(?P<width>\*|\d{1,9})?"
    r"(?:\.(?P<precision>\*|\d{1,9}))?[hlL]?(?P<type>[diouxXeEfFgGcrsa%])"
)


class _Unformattable(Exception):
    """The template and params do not fit together: the template is kept as it is."""


class _Params:
    def __init__(self, params: list[Any] | Mapping[str, Any]) -> None:
        self.positional = params if isinstance(params, list) else None
        self.mapping = params if isinstance(params, Mapping) else None
        self.used = 0
        self.whole_used = False  # `"%s" % {...}` formats the mapping itself

    def next(self) -> Any:
        if self.positional is not None:
            if self.used >= len(self.positional):
                raise _Unformattable
            self.used += 1
            return self.positional[self.used - 1]
        if self.whole_used:
            raise _Unformattable
        self.whole_used = True
        return self.mapping

    def named(self, key: str) -> Any:
        if self.mapping is None or key not in self.mapping:
            raise _Unformattable
        return self.mapping[key]

    def all_used(self) -> bool:
        return self.positional is None or self.used == len(self.positional)


def _bound(value: str | None, params: _Params) -> str:
    if value is None:
        return ""
    number = params.next() if value == "*" else int(value)
    if not isinstance(number, int) or isinstance(number, bool):
        raise _Unformattable
    return str(max(-MAX_FORMAT_WIDTH, min(number, MAX_FORMAT_WIDTH)))


def _conversion(match: re.Match[str], params: _Params) -> str:
    kind = match["type"]
    if kind == "%":
        return "%"
    width = _bound(match["width"], params)
    precision = _bound(match["precision"], params)
    key = match["key"]
    value = params.named(key) if key is not None else params.next()
    if kind in "sra":
        # str() of the value first, cut, so the conversion never copies more than the cap.
        value = (str if kind == "s" else repr if kind == "r" else ascii)(value)[:MAX_FORMATTED]
        kind = "s"
    spec = "%" + match["flags"] + width + ("." + precision if match["precision"] else "") + kind
    try:
        return spec % (value,)
    except (TypeError, ValueError, OverflowError) as exc:
        raise _Unformattable from exc


def format_params(template: str, params: object) -> str:
    """The formatted message, or the template when params are absent or do not fit it (as
    Python's `%` would raise)."""
    if not isinstance(params, list | dict):
        return template
    state = _Params(params)
    parts: list[str] = []
    size = 0
    position = 0
    try:
        while size <= MAX_FORMATTED:
            at = template.find("%", position)
            if at < 0:
                parts.append(template[position:])
                break
            match = CONVERSION.match(template, at)
            if match is None:
                return template  # an incomplete or unknown specifier: Python refuses it too
            converted = _conversion(match, state)
            parts += (template[position:at], converted)
            # Each conversion counts at least one towards the cap, so that a template of
            # 100,000 `%s` with as many empty params still stops after MAX_FORMATTED steps.
            size += at - position + len(converted) + 1
            position = match.end()
        else:
            return "".join(parts)[:MAX_FORMATTED]
        if not state.all_used():
            return template  # "not all arguments converted"
    except _Unformattable:
        return template
    return "".join(parts)[:MAX_FORMATTED]
