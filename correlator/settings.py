from pydantic import Field
from pydantic_settings import SettingsConfigDict

from store.settings import PREFIX, SentrailSettings


class CorrelatorSettings(SentrailSettings):
    """The correlator's passes (`SENTRAIL_CORRELATOR_*`)."""

    model_config = SettingsConfigDict(env_prefix=f"{PREFIX}CORRELATOR_")

    # Events per pass when correlating alone (`sentrail correlate`, a rebuild).
    batch_size: int = Field(default=2000, ge=1)
    # Events per pass beside ingestion on SQLite (`run_forever`), where a pass holds the one
    # write lock the collector's writer waits for: 250 events hold it about 30 ms, 2,000 up
    # to 100 ms and more (p99 of `serve` under full ingest: ~85 against ~155 ms). PostgreSQL
    # locks rows, not the database, and takes `batch_size` (smaller passes there only slow
    # the catching up: 2 s against 4 s after a burst, bench.scale_out).
    sqlite_live_batch_size: int = Field(default=250, ge=1)
    poll_interval: float = Field(default=0.25, gt=0, le=60)
    # How long an id below the watermark that was not yet visible is waited for: a concurrent
    # transaction on PostgreSQL may commit a lower id after a higher one.
    gap_wait: float = Field(default=60.0, gt=0)
    # In-progress journeys re-examined for a stall per pass.
    stall_sweep: int = Field(default=1000, ge=1)
    # Seconds between two learnings of the paths of flows without declared hops
    # (SENTRAIL_CORRELATOR_LEARN_INTERVAL): a learning reads at most 500 journeys per flow.
    learn_interval: float = Field(default=60.0, gt=0)
