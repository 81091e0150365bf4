"""The ACME services, one FastAPI app each (ACME_SHOP.md)."""
