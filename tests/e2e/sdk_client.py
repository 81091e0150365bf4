"""Run as a subprocess: a real sentry-sdk client that sends one of everything to a DSN.

Prints one JSON line per thing it sent, so the test knows what to look for.
"""

import json
import sys
import uuid

import sentry_sdk
from sentry_sdk.sessions import track_session
from sentry_sdk.utils import event_from_exception


def main(dsn: str) -> None:
    order_id = str(uuid.uuid4())
    sentry_sdk.init(
        dsn=dsn,
        release="e2e-release-1",
        environment="e2e",
        server_name="payment",
        traces_sample_rate=1.0,
    )
    sentry_sdk.set_user({"id": "customer-1"})
    scope = sentry_sdk.get_isolation_scope()
    scope.start_session(session_mode="application")

    sentry_sdk.set_tag("order_id", order_id)
    sentry_sdk.add_breadcrumb(
        category="CreditCardValidated",
        level="info",
        data={"OrderID": order_id, "Amount": 62.5, "Success": False},
    )
    with sentry_sdk.start_transaction(name="payment.validate", op="queue.process") as tx:
        trace_id = tx.trace_id
        try:
            raise ValueError(f"validation failed for order [{order_id}] : card expired")
        except ValueError:
            error_id = sentry_sdk.capture_exception()
        message_id = sentry_sdk.capture_message(f"validation successful for order [{order_id}]")
        try:
            {}["card"]
        except KeyError:
            event, hint = event_from_exception(
                sys.exc_info(), mechanism={"type": "test", "handled": False}
            )
            crash_id = sentry_sdk.capture_event(event, hint=hint)

    scope.end_session()

    # Three requests of a web app: server-mode sessions, sent as pre-aggregated counts.
    for failing in (False, True, False):
        with (
            sentry_sdk.isolation_scope() as request_scope,
            track_session(request_scope, session_mode="request"),
        ):
            if failing:
                try:
                    raise RuntimeError("request failed")
                except RuntimeError:
                    failed_id = sentry_sdk.capture_exception()

    sentry_sdk.flush(timeout=10)
    print(
        json.dumps(
            {
                "order_id": order_id,
                "trace_id": trace_id,
                "error_id": error_id,
                "message_id": message_id,
                "crash_id": crash_id,
                "failed_id": failed_id,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
