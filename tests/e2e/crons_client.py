"""Run as a subprocess: real sentry-python sending cron check-ins to a DSN.

The `@monitor` decorator with a `monitor_config` around a job that succeeds and then fails,
and `capture_checkin` for a heartbeat monitor, plus one run of it left in progress. Prints one
JSON line with what it sent.
"""

import contextlib
import json
import sys

import sentry_sdk
from sentry_sdk.crons import capture_checkin, monitor

NIGHTLY = {
    "schedule": {"type": "crontab", "value": "0 3 * * *"},
    "checkin_margin": 5,
    "max_runtime": 10,
    "timezone": "Europe/Berlin",
}
HEARTBEAT = {"schedule": {"type": "interval", "value": 10, "unit": "minute"}, "checkin_margin": 2}


@monitor(monitor_slug="e2e-nightly", monitor_config=NIGHTLY)  # type: ignore[arg-type]
def nightly_export(fail: bool) -> None:
    if fail:
        raise RuntimeError("export failed")


def main(dsn: str) -> None:
    sentry_sdk.init(dsn=dsn, release="crons-1", environment="e2e")
    nightly_export(False)
    with contextlib.suppress(RuntimeError):
        nightly_export(True)
    beat = capture_checkin(
        monitor_slug="e2e-heartbeat", status="ok", duration=0.5, monitor_config=HEARTBEAT
    )
    # A run that starts and never ends: sent on its own, after the monitor exists.
    sentry_sdk.flush(timeout=10)
    hanging = capture_checkin(monitor_slug="e2e-heartbeat", status="in_progress")
    sentry_sdk.flush(timeout=10)
    print(json.dumps({"heartbeat": beat, "hanging": hanging}))


if __name__ == "__main__":
    main(sys.argv[1])
