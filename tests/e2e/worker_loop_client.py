"""Run as a subprocess: a queue worker instrumented with sentry-python the way many are, with no
request scope. It handles orders one after the other in one process, so its breadcrumbs pile
up across orders: every event of a later order carries the `OrderID` breadcrumbs of all the
orders before it (docs/decisions.md#11).

Each order: a breadcrumb with its id, a transaction tagged with it; a failing order also sends
an error that states its order in the message, and, every other time, one with no key of its
own at all (only the newest breadcrumb says which order). Prints one JSON line per order:
{"order", "failed"}; every event carries the order it truly belongs to in a `truth` context
that the rules do not read.
"""

import json
import sys
import uuid

import sentry_sdk


def handle(order: str, failing: bool, bare: bool) -> None:
    sentry_sdk.set_context("truth", {"order": order})
    sentry_sdk.add_breadcrumb(category="order", message="picked", data={"OrderID": order})
    with sentry_sdk.start_transaction(name="process order", op="queue.process") as tx:
        tx.set_tag("order_id", order)
        if failing:
            sentry_sdk.capture_message(f"validation failed for order [{order}]", level="error")
            if bare:
                try:
                    raise RuntimeError("card processor unreachable")
                except RuntimeError:
                    sentry_sdk.capture_exception()


def main(dsn: str, count: int) -> None:
    sentry_sdk.init(
        dsn=dsn,
        release="worker-1",
        server_name="payment",
        traces_sample_rate=1.0,
        max_breadcrumbs=100,
    )
    for n in range(count):
        order, failing = str(uuid.uuid4()), n % 3 == 1
        handle(order, failing, bare=n % 2 == 1)
        print(json.dumps({"order": order, "failed": failing}), flush=True)
    sentry_sdk.flush(timeout=30)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
