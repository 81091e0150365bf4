"""Journeys, service impact and release health, built from what the collector stored."""
