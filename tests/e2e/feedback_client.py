"""Run as a subprocess: a real sentry-sdk client that sends an error with attachments, then
what the customer said about it, to a DSN.

The attachments go the SDK's own way (`scope.add_attachment`, sent in the error's envelope).
The installed sentry-sdk (2.75) has neither `capture_feedback` nor `capture_user_feedback`, so
the `feedback` item (and an older `user_report`) go through the SDK's own transport, in an
envelope built by its own envelope code (`sentry_sdk.envelope`); switch to
`sentry_sdk.capture_feedback` once the SDK in use has it. Prints one JSON line with the ids,
so the test knows what to look for.
"""

import json
import random
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import sentry_sdk
from sentry_sdk.envelope import Envelope, Item, PayloadRef

CART = {"items": 3, "total": 62.5, "password": "hunter2"}
# 300 KiB that gzip cannot shrink: the request takes the large-request lane (collector/lanes.py)
BIG = random.Random(7).randbytes(300_000)


def send_item(kind: str, value: dict[str, Any], event_id: str) -> None:
    envelope = Envelope(headers={"event_id": event_id, "sent_at": datetime.now(UTC).isoformat()})
    envelope.add_item(Item(payload=PayloadRef(json=value), type=kind))
    transport = sentry_sdk.get_client().transport
    assert transport is not None
    transport.capture_envelope(envelope)


def send_feedback(message: str, error_id: str, trace_id: str) -> str:
    """The `feedback` item as develop.sentry.dev describes it (sdk/data-model/envelope-items,
    "User Feedback"), sent by this SDK's own transport."""
    feedback_id = uuid.uuid4().hex
    event = {
        "event_id": feedback_id,
        "type": "feedback",
        "timestamp": datetime.now(UTC).timestamp(),
        "platform": "python",
        "level": "info",
        "release": "e2e-release-1",
        "environment": "e2e",
        "contexts": {
            "feedback": {
                "message": message,
                "contact_email": "jane@example.com",
                "name": "Jane Doe",
                "associated_event_id": error_id,
            },
            "trace": {"trace_id": trace_id, "span_id": uuid.uuid4().hex[:16]},
        },
    }
    send_item("feedback", event, feedback_id)
    return feedback_id


def main(dsn: str) -> None:
    order_id = str(uuid.uuid4())
    sentry_sdk.init(
        dsn=dsn,
        release="e2e-release-1",
        environment="e2e",
        server_name="payment",
        traces_sample_rate=1.0,
        default_integrations=False,
    )
    sentry_sdk.set_tag("order_id", order_id)
    with sentry_sdk.new_scope() as scope:
        scope.add_attachment(
            bytes=json.dumps(CART).encode(), filename="cart.json", content_type="application/json"
        )
        scope.add_attachment(bytes=b"<script>alert(1)</script>", filename="../../etc/passwd")
        scope.add_attachment(bytes=BIG, filename="dump.bin")
        with sentry_sdk.start_transaction(name="payment.validate", op="queue.process") as tx:
            trace_id = tx.trace_id
            try:
                raise ValueError(f"validation failed for order [{order_id}] : card expired")
            except ValueError:
                error_id = sentry_sdk.capture_exception()
    assert error_id is not None
    feedback_id = send_feedback("I was charged but the order failed", error_id, trace_id)
    report = {
        "event_id": error_id,
        "name": "Jo",
        "email": "jo@example.com",
        "comments": "Same here",
    }
    send_item("user_report", report, error_id)
    sentry_sdk.flush(timeout=10)
    print(
        json.dumps(
            {
                "order_id": order_id,
                "trace_id": trace_id,
                "error_id": error_id,
                "feedback_id": feedback_id,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
