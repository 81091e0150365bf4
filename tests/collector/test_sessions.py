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
    assert (first.sid, first.init, first.outcome) == ("s", True, None)
    assert first.counts_bucket.environment == "production"  # Sentry's default
    assert (last.init, last.outcome, last.distinct_id) == (False, "crashed", "u1")
    assert last.counts_bucket.started_at.second == 0  # bucketed per minute
    assert last.counts(started=False, outcome="crashed").crashed == 1


def test_exited_with_errors_is_errored() -> None:
    result = from_session(
        {"started": 1764237600, "status": "exited", "errors": 2, "attrs": {"release": "r"}}
    )
    assert result is not None and result.outcome == "errored"


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
    assert [(c.total, c.exited, c.errored, c.crashed, c.abnormal) for c, _ in rows] == [
        (8, 5, 2, 1, 0),
        (1, 0, 0, 0, 1),
    ]
    assert rows[1][1] is not None and not rows[1][1].crashed
