"""Property-based fuzzing of check-ins: whatever a check-in item or a crontab says, the answer
is a check-in, an `InvalidCheckIn` (an outcome) or an `InvalidSchedule`, never another
exception, and a next run is after the time it was asked for."""

import os
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.checkins import InvalidCheckIn, read_check_in
from store.crontab import InvalidSchedule, parse_crontab
from tests.collector.test_fuzz import json_values

FUZZ = settings(
    max_examples=int(os.environ.get("SENTRAIL_TEST_FUZZ_EXAMPLES", "500")),
    deadline=None,
    database=None,
)
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
ZONES = ["UTC", "Europe/Berlin", "America/St_Johns", "Australia/Lord_Howe"]  # odd DST steps
FIELD = st.sampled_from(["*", "*/5", "1-5", "0", "7", "mon-fri", "jan", "1,2,3", "5/15", "L", ""])
crontabs = st.lists(FIELD | st.text(max_size=6), min_size=0, max_size=7).map(" ".join)
schedules = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["crontab", "interval", "cron"]) | json_values,
        "value": crontabs | json_values,
        "unit": st.sampled_from(["minute", "hour", "day", "week", "month", "year"]) | json_values,
    }
)
configs = st.fixed_dictionaries(
    {"schedule": schedules | json_values},
    optional={
        "checkin_margin": json_values,
        "max_runtime": json_values,
        "timezone": st.sampled_from(["UTC", "Europe/Berlin", "Asia/Kolkata"]) | json_values,
    },
)
check_ins = st.fixed_dictionaries(
    {},
    optional={
        "check_in_id": st.uuids().map(str) | json_values,
        "monitor_slug": st.text(max_size=60) | json_values,
        "status": st.sampled_from(["in_progress", "ok", "error"]) | json_values,
        "duration": json_values,
        "release": json_values,
        "environment": json_values,
        "monitor_config": configs | json_values,
        "contexts": json_values,
    },
)


@FUZZ
@given(check_ins)
def test_check_in_items(item: dict[str, object]) -> None:
    try:
        read = read_check_in(item, NOW)
    except InvalidCheckIn:
        return
    assert 1 <= len(read.slug) <= 50 and len(read.check_in_id) == 32
    if read.config is not None:
        assert read.config.checkin_margin >= 1 and read.config.max_runtime >= 1


@FUZZ
@given(crontabs, st.sampled_from(ZONES), st.integers(0, 3 * 365 * 24 * 60))
def test_crontabs(expression: str, zone: str, offset: int) -> None:
    at = NOW + timedelta(minutes=offset)
    try:
        crontab = parse_crontab(expression)
    except InvalidSchedule:
        return
    found = crontab.next_after(at, ZoneInfo(zone))
    assert found is None or (found > at and found.second == 0)
