"""Standard 5-field crontab expressions and their next run, in a monitor's timezone.

Written here rather than taken from PyPI: the parser is small, typed, and its cost is bounded
(every expression is capped in length, and the search for the next run looks at most
`HORIZON_DAYS` days ahead), which matters because the expressions come from SDKs. It lives in
`store` because both the collector (validating a check-in's `monitor_config`) and the
correlator (the missed-run checker) compute next runs, and they never import each other.

Semantics are cron's (Vixie): fields minute, hour, day of month, month, day of week; numbers,
`*`, ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b`, month names `jan`-`dec`, day names
`sun`-`sat` (`7` is Sunday too), and the macros `@hourly`, `@daily`, `@midnight`, `@weekly`,
`@monthly`, `@yearly`, `@annually`. When both day fields are restricted, a day matches either.
Local times that do not exist (a spring-forward gap) are skipped; a local time that occurs
twice (fall-back) runs once, at its first occurrence.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

MAX_EXPRESSION = 100  # characters; Sentry's schedules are short ("0 * * * *")
MAX_LIST_ITEMS = 60  # comma-separated parts in one field
HORIZON_DAYS = 366 * 8 + 1  # Feb 29 on a Monday recurs within 28 years; 8 covers Feb 29 alone

MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
DAYS = {
    name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))
}
MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


class InvalidSchedule(ValueError):
    """A schedule that cannot be run: the check-in carrying it is refused with an outcome."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]


FIELDS = (
    _Field("minute", 0, 59, {}),
    _Field("hour", 0, 23, {}),
    _Field("day of month", 1, 31, {}),
    _Field("month", 1, 12, MONTHS),
    _Field("day of week", 0, 7, DAYS),
)


def _number(text: str, spec: _Field) -> int:
    value = spec.names.get(text.lower())
    if value is not None:
        return value
    if not (text.isascii() and text.isdigit()) or len(text) > 2:
        raise InvalidSchedule(f"{spec.name}: {text!r} is not a number")
    number = int(text)
    if not spec.low <= number <= spec.high:
        raise InvalidSchedule(f"{spec.name}: {number} is outside {spec.low}-{spec.high}")
    return number


def _part(text: str, spec: _Field) -> set[int]:
    """One comma-separated part: `*`, `n`, `a-b`, each optionally `/step`."""
    base, slash, step_text = text.partition("/")
    step = 1
    if slash:
        if not (step_text.isascii() and step_text.isdigit()) or not 0 < int(step_text) <= 99:
            raise InvalidSchedule(f"{spec.name}: invalid step {step_text!r}")
        step = int(step_text)
    if base == "*":
        low, high = spec.low, spec.high
    elif "-" in base:
        first, _, last = base.partition("-")
        low, high = _number(first, spec), _number(last, spec)
        if low > high:
            raise InvalidSchedule(f"{spec.name}: range {base!r} runs backwards")
    else:
        low = _number(base, spec)
        high = spec.high if slash else low  # `5/15` means 5, 20, 35, 50 (as in Vixie cron)
    return set(range(low, high + 1, step))


def _field(text: str, spec: _Field) -> frozenset[int]:
    parts = text.split(",")
    if len(parts) > MAX_LIST_ITEMS:
        raise InvalidSchedule(f"{spec.name}: more than {MAX_LIST_ITEMS} list items")
    values: set[int] = set()
    for part in parts:
        if not part:
            raise InvalidSchedule(f"{spec.name}: empty list item")
        values |= _part(part, spec)
    return frozenset(values)


@dataclass(frozen=True)
class Crontab:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day of month is `*`
    any_weekday: bool  # day of week is `*`

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week  # the `*` one matches every day
        return in_month or in_week

    def next_after(self, at: datetime, zone: tzinfo) -> datetime | None:
        """The first run strictly after `at` (aware), as an aware UTC datetime; None when none
        falls within `HORIZON_DAYS` (`0 0 31 2 *`)."""
        local = at.astimezone(zone)
        day = local.date()
        for _ in range(HORIZON_DAYS):
            if self.matches_day(day):
                found = self._first_on(day, at, zone)
                if found is not None:
                    return found
            day += timedelta(days=1)
        return None

    def _first_on(self, day: date, at: datetime, zone: tzinfo) -> datetime | None:
        for hour in self.hours:
            for minute in self.minutes:
                wall = datetime.combine(day, time(hour, minute), tzinfo=zone)
                utc = wall.astimezone(UTC)
                if utc.astimezone(zone).replace(tzinfo=None) != wall.replace(tzinfo=None):
                    continue  # a wall time the clocks skipped (spring forward)
                if utc > at:
                    return utc
        return None


def parse_crontab(expression: str) -> Crontab:
    """The expression as a `Crontab`, or `InvalidSchedule` saying what is wrong."""
    if len(expression) > MAX_EXPRESSION:
        raise InvalidSchedule(f"longer than {MAX_EXPRESSION} characters")
    text = MACROS.get(expression.strip().lower(), expression)
    fields = text.split()
    if len(fields) != 5:
        raise InvalidSchedule("a crontab has 5 fields: minute hour day month weekday")
    minutes, hours, days, months, weekdays = (
        _field(text, spec) for text, spec in zip(fields, FIELDS, strict=True)
    )
    weekdays = frozenset(d % 7 for d in weekdays)
    return Crontab(
        tuple(sorted(minutes)),
        tuple(sorted(hours)),
        days,
        months,
        weekdays,
        any_day=fields[2].startswith("*"),
        any_weekday=fields[4].startswith("*"),
    )
