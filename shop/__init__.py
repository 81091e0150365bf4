"""The ACME Fitness shop in Python, instrumented with sentry-sdk: the demo and ground truth."""
