// Run by tests/e2e/test_js_parity.py: real @sentry/node with its default settings, as a
// "checkout-worker" that fails an order and then runs its cron jobs:
//   - an error tagged with the order id, sent with two attachments (scope.addAttachment);
//   - what the customer said about it (Sentry.captureFeedback, associatedEventId = the error);
//   - check-ins: captureCheckIn in_progress (with a monitorConfig) then ok with its checkInId,
//     and Sentry.withMonitor around a job that succeeds and one that fails.
// Prints one JSON line of the ids it used, so the test knows what to look for.
//
//   node node_parity.mjs DSN ORDER_ID RELEASE
import * as Sentry from "@sentry/node";

const [dsn, orderId, release] = process.argv.slice(2);

const HOURLY = {
  schedule: { type: "crontab", value: "0 * * * *" },
  checkinMargin: 5,
  maxRuntime: 10,
  timezone: "Europe/Berlin",
};
const HEARTBEAT = { schedule: { type: "interval", value: 10, unit: "minute" }, checkinMargin: 2 };

// Every byte value, twice: not UTF-8, so only a byte-exact store gives it back.
const RECEIPT = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
const CART = { items: 2, total: 41.5, password: "hunter2" };

Sentry.init({ dsn, release, environment: "e2e", serverName: "checkout-worker" });
Sentry.setTag("service", "checkout-worker");
Sentry.setTag("order_id", orderId);

function failOrder() {
  return Sentry.withScope((scope) => {
    scope.addAttachment({ filename: "receipt.bin", data: RECEIPT });
    scope.addAttachment({
      filename: "cart.json",
      data: JSON.stringify(CART),
      contentType: "application/json",
    });
    try {
      throw new Error(`payment declined for order ${orderId}`);
    } catch (error) {
      return Sentry.captureException(error);
    }
  });
}

const errorId = failOrder();
const feedbackId = Sentry.captureFeedback({
  message: "I was charged but the order failed",
  name: "Jane Doe",
  email: "jane@example.com",
  associatedEventId: errorId,
});

// The cron jobs. A real job runs for seconds or minutes, so its start has long been delivered
// when it ends; here each waits for that (flush) instead. The SDK sends a run's end in its own
// envelope, without the monitorConfig (withMonitor), and nothing orders two envelopes on the
// wire: under load, an end sent 20 ms after its start overtook it, and for a monitor not yet
// made it is refused (docs/protocol.md#check-ins).
const work = async (fail) => {
  await Sentry.flush(10000);
  if (fail) throw new Error("heartbeat job failed");
};

const startedAt = performance.now();
const hourly = Sentry.captureCheckIn({ monitorSlug: "node-hourly", status: "in_progress" }, HOURLY);
await work(false);
Sentry.captureCheckIn({
  checkInId: hourly,
  monitorSlug: "node-hourly",
  status: "ok",
  duration: (performance.now() - startedAt) / 1000,
});

await Sentry.withMonitor("node-heartbeat", () => work(false), HEARTBEAT);
await Sentry.withMonitor("node-heartbeat", () => work(true), HEARTBEAT).catch(() => undefined);

await Sentry.flush(10000);
console.log(
  JSON.stringify({
    order_id: orderId,
    error_id: errorId,
    feedback_id: feedbackId,
    hourly_check_in_id: hourly,
    receipt: Buffer.from(RECEIPT).toString("base64"),
  }),
);
await Sentry.close(10000);
