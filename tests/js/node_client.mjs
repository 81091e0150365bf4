// Run by tests/e2e/test_js_sdks.py: real @sentry/node with its default settings plus tracing
// and logs, doing one checkout of an order as the "frontend" service (a Node storefront): a
// span with the order id as an attribute, a log entry with it as an attribute, a captured
// error tagged with it. Prints one JSON line of what it sent, so the test knows what to look for.
//
//   node node_client.mjs DSN ORDER_ID RELEASE
import * as Sentry from "@sentry/node";

const [dsn, orderId, release] = process.argv.slice(2);

Sentry.init({
  dsn,
  release,
  environment: "e2e",
  serverName: "frontend",
  tracesSampleRate: 1,
  enableLogs: true,
});
// Events carry tags; streamed spans and logs carry the scope's attributes instead (SDK 11
// copies no tags onto them), so the service names itself in both.
Sentry.setTag("service", "frontend");
Sentry.setAttributes({ service: "frontend" });
Sentry.setTag("order_id", orderId);

const sent = await Sentry.startSpan(
  { name: "checkout", op: "function", attributes: { order_id: orderId } },
  async (span) => {
    Sentry.logger.info(Sentry.logger.fmt`checking out order ${orderId}`, { order_id: orderId });
    let errorId;
    try {
      throw new Error(`payment declined for order ${orderId}`);
    } catch (error) {
      errorId = Sentry.captureException(error);
    }
    const { traceId, spanId } = span.spanContext();
    return { order_id: orderId, trace_id: traceId, span_id: spanId, error_id: errorId };
  },
);
await Sentry.flush(10000);
console.log(JSON.stringify(sent));
await Sentry.close(10000);
