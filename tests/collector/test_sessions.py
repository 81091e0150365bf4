import pytest

from collector.sessions import from_aggregates, from_session


def test_session_update_names_its_start_and_end() -> None:
    started = "2026-11-27T10:00:42Z"
    first = from_session(
        {
            "sid": "s",
            "did": "u1",
            "init": True,
            "started": started,
            "status": "ok",
            "attrs": {"release": "r1"},
        }
    )
    last = from_session(
        {
            "sid": "s",
            "did": "u1",
            "started": started,
            "status": "crashed",
            "attrs": {"release": "r1", "environment": "prod"},
        }
    )
    assert first is not None and last is not None
    assert (first.sid, first.init, first.end, first.errored) == ("s", True, None, False)
    assert first.counts_bucket.environment == "production"  # Sentry's default
    assert (last.init, last.end, last.errored, last.distinct_id) == (False, "crashed", True, "u1")
    assert last.counts_bucket.started_at.second == 0  # bucketed per minute
    counted = last.counts(started=False, errored=True, end="crashed")
    assert (counted.total, counted.crashed, counted.errored) == (0, 1, 1)


@pytest.mark.parametrize(
    ("status", "errors", "end", "errored"),
    [
        ("exited", 2, "exited", True),  # ended normally, but saw errors: not healthy
        ("ok", 1, None, True),  # `Sentry.close()` leaves it at ok with errors: not healthy
        ("unhandled", 0, "unhandled", True),  # the browser's uncaught error: not a crash
        ("errored", 0, "errored", True),
        ("abnormal", 0, "abnormal", True),
        ("exited", 0, "exited", False),
        ("ok", 0, None, False),
    ],
)
def test_an_update_is_errored_as_relay_reads_it(
    status: str, errors: int, end: str | None, errored: bool
) -> None:
    result = from_session(
        {"started": 1764237600, "status": status, "errors": errors, "attrs": {"release": "r"}}
    )
    assert result is not None and (result.end, result.errored) == (end, errored)


def test_invalid_sessions_are_dropped() -> None:
    assert from_session({"started": 1764237600, "attrs": {}}) is None
    assert from_session({"attrs": {"release": "r"}}) is None


def test_aggregates() -> None:
    rows = from_aggregates(
        {
            "attrs": {"release": "r", "environment": "e"},
            "aggregates": [
                {"started": "2026-11-27T10:00:00Z", "exited": 5, "errored": 2, "crashed": 1},
                {"started": "2026-11-27T10:01:00Z", "did": "u", "abnormal": 1},
                {"started": "garbage", "exited": 1},
            ],
        }
    )
    # stored `errored` holds every session that saw an error: crashed and abnormal too
    assert [(c.total, c.exited, c.errored, c.crashed, c.abnormal) for c, _ in rows] == [
        (8, 5, 3, 1, 0),
        (1, 0, 1, 0, 1),
    ]
    assert rows[1][1] is not None and not rows[1][1].crashed
