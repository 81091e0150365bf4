"""Run as a subprocess: a real sentry-sdk client that sends application sessions for one
release, as a plan says: `python sessions_client.py DSN RELEASE PLAN_JSON`, where the plan is a
list of [user, outcome] with outcome ok | errored | crashed."""

import json
import sys

import sentry_sdk
from sentry_sdk.utils import event_from_exception


def main(dsn: str, release: str, plan: list[list[str]]) -> None:
    sentry_sdk.init(dsn=dsn, release=release, environment="e2e", server_name="mobile")
    for user, outcome in plan:
        with sentry_sdk.isolation_scope() as scope:
            scope.set_user({"id": user})
            scope.start_session(session_mode="application")
            if outcome == "errored":
                try:
                    raise ValueError(f"handled problem for {user}")
                except ValueError:
                    sentry_sdk.capture_exception()
            elif outcome == "crashed":
                try:
                    raise RuntimeError(f"app crashed for {user}")
                except RuntimeError:
                    event, hint = event_from_exception(
                        sys.exc_info(), mechanism={"type": "test", "handled": False}
                    )
                    sentry_sdk.capture_event(event, hint=hint)
            scope.end_session()
    sentry_sdk.flush(timeout=10)
    print(json.dumps({"sent": len(plan)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
