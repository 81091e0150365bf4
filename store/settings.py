from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "SENTRAIL_"


class SentrailSettings(BaseSettings):
    """The base of every settings class: one prefix, one optional `.env` file.

    Each class reads only its own fields (`extra="ignore"`, since all share one environment);
    a `SENTRAIL_` variable that no class knows is refused in one place at start-up
    (sentrail/settings.py, `check_environment`), so a mistyped name never goes unnoticed.
    """

    model_config = SettingsConfigDict(env_prefix=PREFIX, env_file=".env", extra="ignore")


class DatabaseSettings(SentrailSettings):
    """Where the data lives. SQLite (a file) is the embedded default; PostgreSQL is production."""

    database_url: str = "sqlite:///./sentrail.db"
    database_pool_size: int = 10
    # FULL: each commit survives a power loss. NORMAL (WAL): survives a crash of sentrail
    # (kill -9) but the last commits may roll back if the machine loses power; faster here.
    sqlite_synchronous: Literal["full", "normal"] = "full"
    # Events (and journeys, webhook deliveries, session states) older than this many days are
    # pruned; unset keeps everything. Hourly counts, issues and session totals are kept.
    retention_days: float | None = Field(default=None, gt=0)

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, url: str) -> str:
        # psycopg 3 is the driver we ship; accept the URL forms people paste from elsewhere.
        for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        if url.startswith(("sqlite://", "postgresql+psycopg://")):
            return url
        raise ValueError("SENTRAIL_DATABASE_URL must be a sqlite:// or postgresql:// URL")

    @field_validator("database_pool_size")
    @classmethod
    def _positive(cls, size: int) -> int:
        if size < 1:
            raise ValueError("SENTRAIL_DATABASE_POOL_SIZE must be at least 1")
        return size
