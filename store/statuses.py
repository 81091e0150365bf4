"""The statuses a journey can have: the vocabulary of the journey table's `status` column.

What decides each one is in docs/architecture.md (Journeys).
"""

COMPLETED = "completed"
FAILED = "failed"
STALLED = "stalled"
IN_PROGRESS = "in_progress"
STATUSES = (COMPLETED, FAILED, STALLED, IN_PROGRESS)
