from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from store.crontab import MAX_EXPRESSION, InvalidSchedule, parse_crontab
from store.schedules import crontab_schedule, interval_schedule, stored_schedule, zone_of

UTC_ZONE = ZoneInfo("UTC")


def at(*args: int, tz: str = "UTC") -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz)).astimezone(UTC)  # type: ignore[misc]


def next_run(expression: str, after: datetime, tz: str = "UTC") -> datetime | None:
    return parse_crontab(expression).next_after(after, ZoneInfo(tz))


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("0 * * * *", at(2026, 12, 2, 10, 0), at(2026, 12, 2, 11, 0)),
        ("0 * * * *", at(2026, 12, 2, 10, 59), at(2026, 12, 2, 11, 0)),
        ("*/15 * * * *", at(2026, 12, 2, 10, 1), at(2026, 12, 2, 10, 15)),
        ("5/20 * * * *", at(2026, 12, 2, 10, 6), at(2026, 12, 2, 10, 25)),
        ("10-20/5 3 * * *", at(2026, 12, 2, 3, 16), at(2026, 12, 2, 3, 20)),
        ("0 9,17 * * *", at(2026, 12, 2, 10, 0), at(2026, 12, 2, 17, 0)),
        ("0 0 1 jan *", at(2026, 12, 2), at(2027, 1, 1)),
        ("0 0 * * mon-fri", at(2026, 12, 4, 12), at(2026, 12, 7)),  # Friday noon → Monday
        ("0 0 * * 7", at(2026, 12, 2), at(2026, 12, 6)),  # 7 is Sunday
        ("0 0 13 * fri", at(2026, 12, 2), at(2026, 12, 4)),  # both day fields: either
        ("0 0 29 2 *", at(2026, 3, 1), at(2028, 2, 29)),
        ("@daily", at(2026, 12, 2, 0, 0, 30), at(2026, 12, 3)),
        ("@hourly", at(2026, 12, 2, 10, 30), at(2026, 12, 2, 11)),
    ],
)
def test_next_run(expression: str, after: datetime, expected: datetime) -> None:
    assert next_run(expression, after) == expected


def test_runs_in_the_monitors_timezone() -> None:
    # 09:00 in New York is 14:00 UTC in winter.
    found = next_run("0 9 * * *", at(2026, 12, 2, 12), "America/New_York")
    assert found == at(2026, 12, 2, 14)


def test_a_wall_time_skipped_by_spring_forward_does_not_run() -> None:
    # Europe/Berlin skips 02:00-03:00 on 2026-03-29: "30 2 * * *" runs the next day.
    found = next_run("30 2 * * *", at(2026, 3, 29, 0, 0, tz="Europe/Berlin"), "Europe/Berlin")
    assert found == at(2026, 3, 30, 2, 30, tz="Europe/Berlin")


def test_a_wall_time_repeated_by_fall_back_runs_once() -> None:
    # Europe/Berlin repeats 02:00-03:00 on 2026-10-25 (first at 00:30 UTC, then 01:30 UTC).
    zone = "Europe/Berlin"
    first = next_run("30 2 * * *", at(2026, 10, 25, 0, 0, tz=zone), zone)
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert first is not None
    assert next_run("30 2 * * *", first, zone) == at(2026, 10, 26, 2, 30, tz=zone)


def test_hourly_across_a_dst_change_keeps_every_real_hour() -> None:
    zone = ZoneInfo("Europe/Berlin")
    crontab = parse_crontab("0 * * * *")
    runs, current = [], datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    for _ in range(4):
        found = crontab.next_after(current, zone)
        assert found is not None
        runs.append(found)
        current = found
    assert [r.hour for r in runs] == [0, 1, 2, 3]  # UTC hours: none lost, none doubled


@pytest.mark.parametrize(
    "expression",
    [
        "",
        "* * * *",
        "* * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * * 13 *",
        "* * * * 8",
        "5-1 * * * *",
        "*/0 * * * *",
        "*/x * * * *",
        "a * * * *",
        "1,,2 * * * *",
        "-1 * * * *",
        "1" * 200,
        ",".join(["1"] * 61) + " * * * *",
        "@reboot",
        "* * * foo *",
    ],
)
def test_invalid_expressions_are_refused(expression: str) -> None:
    with pytest.raises(InvalidSchedule):
        parse_crontab(expression)


def test_expressions_are_capped() -> None:
    with pytest.raises(InvalidSchedule, match="longer than"):
        parse_crontab("0 " * MAX_EXPRESSION)


def test_a_date_that_never_comes_has_no_next_run() -> None:
    assert next_run("0 0 31 2 *", at(2026, 1, 1)) is None


def test_interval_schedules() -> None:
    start = at(2026, 1, 31, 10, 0, 42)
    assert interval_schedule(2, "hour").next_after(start, UTC_ZONE) == at(2026, 1, 31, 12)
    assert interval_schedule(1, "month").next_after(start, UTC_ZONE) == at(2026, 2, 28, 10)
    assert interval_schedule(1, "year").next_after(start, UTC_ZONE) == at(2027, 1, 31, 10)
    assert interval_schedule(3, "week").next_after(start, UTC_ZONE) == at(2026, 2, 21, 10)
    assert interval_schedule(100_000, "year").next_after(start, UTC_ZONE) is None
    for value, unit in [(0, "hour"), (1.5, "hour"), (True, "day"), ("2", "day"), (1, "fortnight")]:
        with pytest.raises(InvalidSchedule):
            interval_schedule(value, unit)


def test_stored_schedules_round_trip_and_minutes_are_whole() -> None:
    schedule = stored_schedule("crontab", "*/5 * * * *", None)
    assert schedule == crontab_schedule("*/5 * * * *")
    assert schedule.next_after(at(2026, 1, 1, 10, 5, 30), UTC_ZONE) == at(2026, 1, 1, 10, 10)
    assert stored_schedule("interval", "10", "minute").next_after(
        at(2026, 1, 1, 10, 5, 30), UTC_ZONE
    ) == at(2026, 1, 1, 10, 15)


@pytest.mark.parametrize("name", ["", "Nowhere/City", "../etc/passwd", "/etc/localtime", "x" * 65])
def test_unknown_timezones_are_refused(name: str) -> None:
    with pytest.raises(InvalidSchedule):
        zone_of(name)
    assert zone_of("Europe/Berlin") == ZoneInfo("Europe/Berlin")
