"""The lane for large requests (collector/lanes.py): its work runs in a process of its own,
at most `capacity` requests are in at once, and a request that says it is large is refused
before its body is read while the lane is full."""

import asyncio
import os
import threading
from pathlib import Path

import pytest

from collector.lanes import LARGE_BODY, LARGE_COMPRESSED_BODY, LargeRequestLane
from collector.settings import CollectorSettings
from store.errors import Unavailable


def wait_for(path: str) -> int:
    """Work that holds the lane until the test lets it go (a file appears), then answers
    the lane's process id."""
    while not os.path.exists(path):
        threading.Event().wait(0.01)
    return os.getpid()


def test_what_counts_as_large() -> None:
    assert not LargeRequestLane.is_large(LARGE_BODY, None)
    assert LargeRequestLane.is_large(LARGE_BODY + 1, "identity")
    assert not LargeRequestLane.is_large(LARGE_COMPRESSED_BODY, "gzip")
    assert LargeRequestLane.is_large(LARGE_COMPRESSED_BODY + 1, "gzip")


def test_the_work_runs_in_another_process() -> None:
    lane = LargeRequestLane(CollectorSettings())
    try:
        assert asyncio.run(lane.run(os.getpid)) != os.getpid()
    finally:
        lane.close()


def test_past_capacity_large_requests_are_refused_with_retry_after(tmp_path: Path) -> None:
    release = tmp_path / "release"
    lane = LargeRequestLane(CollectorSettings(max_large_requests=1, retry_after_seconds=7))

    async def scenario() -> int:
        held = asyncio.create_task(lane.run(wait_for, str(release)))
        await asyncio.sleep(0)  # the task is admitted before its first await
        with pytest.raises(Unavailable) as refused:
            await lane.run(os.getpid)
        assert refused.value.status_code == 503
        assert refused.value.headers == {"Retry-After": "7"}
        with pytest.raises(Unavailable):  # said large: refused before its body is read
            lane.check_room(str(LARGE_BODY + 1), None)
        lane.check_room(str(LARGE_BODY), None)  # small ones never wait for the lane
        lane.check_room(None, None)  # chunked: decided once read
        release.touch()
        pid = await held
        assert await lane.run(os.getpid) == pid  # room again, the same process
        return pid

    try:
        assert asyncio.run(scenario()) != os.getpid()
    finally:
        lane.close()
