"""The ACME Fitness shop, re-implemented and instrumented with sentry-sdk: the demo and ground truth."""
