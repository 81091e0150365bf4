"""The ACME services, one FastAPI app each (docs/shop.md#services)."""
