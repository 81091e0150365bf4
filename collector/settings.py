from pydantic import Field, field_validator

from store.settings import SentrailSettings

MiB = 1024 * 1024


class CollectorSettings(SentrailSettings):
    """Limits and knobs of the ingest path. Sizes are bytes."""

    # Relay allows 200 MiB decompressed envelopes, mostly for attachments; sentrail keeps a
    # smaller cap to bound memory per request (an attachment of up to max_attachment_bytes
    # fits). Raise it if you must.
    max_body_bytes: int = Field(default=20 * MiB, ge=1024)
    max_envelope_bytes: int = Field(default=20 * MiB, ge=1024)
    max_event_bytes: int = Field(default=1 * MiB, ge=1024)
    max_session_items: int = Field(default=100, ge=1)
    # Items per envelope (413 beyond): each becomes at least one row; SDKs send a handful.
    max_envelope_items: int = Field(default=1000, ge=1)
    # Attachments: one item larger than this is dropped (an `invalid` outcome); past the
    # project's total, new ones are dropped (`rate_limited`) until retention frees room.
    max_attachment_bytes: int = Field(default=10 * MiB, ge=1024)
    max_project_attachment_bytes: int = Field(default=1024 * MiB, ge=0)
    # Events per project per minute; 0 turns the limit off.
    rate_limit_per_minute: int = Field(default=0, ge=0)
    # Group commit: how many requests wait for the writer before new ones get a 503.
    writer_max_pending: int = Field(default=4096, ge=1)
    writer_max_pending_bytes: int = Field(default=256 * MiB, ge=1024)
    writer_max_batch: int = Field(default=512, ge=1)
    # How long the writer waits for more requests before it commits (seconds).
    writer_linger: float = Field(default=0.0, ge=0, le=0.1)
    retry_after_seconds: int = Field(default=5, ge=1)
    # Large requests (collector/lanes.py) admitted at once, one worked on at a time; past
    # that, 503 with Retry-After. SDKs send few: a flood of them is what this bounds.
    max_large_requests: int = Field(default=16, ge=1)

    # Data scrubbing at ingest (on by default, as Relay): extra regexes whose matches are
    # replaced in every string, and keys whose values are kept even if they look sensitive.
    # Lists are JSON in the environment: SENTRAIL_SCRUB_EXTRA_PATTERNS='["ssn-\\d+"]'.
    scrub: bool = True
    scrub_extra_patterns: list[str] = []
    scrub_safe_fields: list[str] = []

    # sentry.io webhooks. The client secret(s) of the integration, comma-separated so that a
    # secret can be rotated without downtime; unset, signed webhooks are refused.
    sentry_client_secret: str | None = None
    legacy_webhook_token: str | None = None
    max_webhook_bytes: int = Field(default=5 * MiB, ge=1024)
    # Optional enrichment: fetch an issue's latest event from Sentry's API.
    sentry_api_token: str | None = None
    sentry_api_url: str = "https://sentry.io"
    enrichment_backoff: float = Field(default=1.0, gt=0, le=60)

    @property
    def client_secrets(self) -> list[bytes]:
        secrets = (self.sentry_client_secret or "").split(",")
        return [s.strip().encode() for s in secrets if s.strip()]

    @field_validator("legacy_webhook_token")
    @classmethod
    def _token_long_enough(cls, token: str | None) -> str | None:
        if token is not None and len(token) < 16:
            raise ValueError("SENTRAIL_LEGACY_WEBHOOK_TOKEN must be at least 16 characters")
        return token or None
