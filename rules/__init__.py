"""Correlation rules: which fields carry a business key, and what a journey looks like.

Shared by the collector (keys are extracted at ingest) and the correlator (journeys), so it
lives apart from both and imports nothing internal but the settings base (store/settings.py).
"""
