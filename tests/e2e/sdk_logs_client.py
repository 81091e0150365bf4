"""Run as a subprocess: real sentry-python with logs on, sending a transaction with child
spans and two log entries (info and error) of one order to a DSN.

Prints one JSON line of what it sent, so the test knows what to look for.
"""

import json
import sys
import uuid

import sentry_sdk


def main(dsn: str) -> None:
    order_id = str(uuid.uuid4())
    sentry_sdk.init(
        dsn=dsn,
        release="e2e-logs-1",
        environment="e2e",
        server_name="payment",
        traces_sample_rate=1.0,
        enable_logs=True,
    )
    sentry_sdk.set_tag("order_id", order_id)
    with sentry_sdk.start_transaction(name="payment.charge", op="queue.process") as tx:
        trace_id = tx.trace_id
        with sentry_sdk.start_span(op="db", name="select card") as span:
            db_span = span.span_id
        with sentry_sdk.start_span(op="http.client", name="POST /charge") as span:
            http_span = span.span_id
            sentry_sdk.logger.info("charging order {order_id}", order_id=order_id)
            sentry_sdk.logger.error("charge failed for order {order_id}", order_id=order_id)
        segment = tx.span_id
    sentry_sdk.flush(timeout=10)
    print(
        json.dumps(
            {
                "order_id": order_id,
                "trace_id": trace_id,
                "segment": segment,
                "db_span": db_span,
                "http_span": http_span,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
