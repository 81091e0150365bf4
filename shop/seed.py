"""Seed data of the original shop (docs/shop.md#seed-data)."""

PRODUCTS = (
    ("Yoga Mat", 62.50, "mat"),
    ("Water Bottle", 34.99, "bottle"),
    ("Fit Bike", 499.99, "bicycle"),
    ("Basket Ball", 110.75, "basketball"),
    ("Smart Watch", 399.59, "watch"),
    ("Red Pants", 99.00, "clothing"),
    ("Running shoes", 120.00, "running"),
    ("Weights", 49.99, "weight"),
)
USERS = ("walter", "dwight", "eric", "han", "phoebe", "elaine")
# The demo customers' password: demo data, not a secret.
DEMO_PASSWORD = "vmware1!"  # nosec B105  # the demo shop's public sample password
