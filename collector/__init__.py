"""HTTP ingestion of Sentry data: SDK envelopes and store bodies, and sentry.io webhooks."""
