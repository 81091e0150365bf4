"""Run as a subprocess: real sentry-python as the Python backends of a checkout that a
JavaScript frontend began (tests/e2e/test_js_sdks.py): order, payment, order again and
shipping, each a transaction continuing the frontend's trace and a message of the order.

    python js_backends_client.py DSN ORDER_ID TRACE_ID PARENT_SPAN_ID
"""

import sys

import sentry_sdk

HOPS = (
    ("order", "order placed"),
    ("payment", "payment validated"),
    ("order", "shipment requested"),
    ("shipping", "sent and delivered"),
)


def main(dsn: str, order_id: str, trace_id: str, parent_span_id: str) -> None:
    sentry_sdk.init(dsn=dsn, release="js-e2e-backends-1", environment="e2e", traces_sample_rate=1)
    incoming = {"sentry-trace": f"{trace_id}-{parent_span_id}-1"}
    for service, work in HOPS:
        with sentry_sdk.isolation_scope() as scope:
            scope.set_tag("service", service)
            scope.set_tag("order_id", order_id)
            transaction = sentry_sdk.continue_trace(incoming, op="http.server", name=work)
            with sentry_sdk.start_transaction(transaction):
                sentry_sdk.capture_message(f"{work} for order [{order_id}]")
    sentry_sdk.flush(timeout=10)


if __name__ == "__main__":
    main(*sys.argv[1:5])
