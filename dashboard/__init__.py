"""The /api/v1 JSON API and the HTML pages."""
