"""The shop's settings: what a customer's system knows (its DSN, release, Redis), nothing more."""

import subprocess  # nosec B404  # `git rev-parse` for the release
from functools import cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES = ("frontend", "users", "catalog", "cart", "order", "payment", "shipping")


def git_sha() -> str | None:
    """The checkout's commit: the default release, as the write-up's deploys use."""
    return git_revision("HEAD")


@cache
def git_revision(ref: str) -> str | None:
    """The commit `ref` names in this checkout, or None outside one."""
    try:
        found = subprocess.run(  # nosec B603 B607  # fixed argv; git from PATH, as a developer runs it
            ["git", "rev-parse", ref],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() or None


class ShopSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Sentry's standard variables, as any service reads them.
    sentry_dsn: str | None = Field(default=None, validation_alias="SENTRY_DSN")
    sentry_release: str | None = Field(default=None, validation_alias="SENTRY_RELEASE")
    sentry_environment: str = Field(default="demo", validation_alias="SENTRY_ENVIRONMENT")
    # Redis for the cart and the queues; unset: `sentrail shop` starts an embedded one.
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("SENTRAIL_REDIS_URL", "SHOP_REDIS_URL")
    )
    # Where users, catalog and order keep their SQL databases (one SQLite file each).
    data_dir: Path = Field(default=Path(".shop"), validation_alias="SHOP_DATA_DIR")
    # Host and first port: the frontend listens on it, the others on the ports after it.
    host: str = Field(default="127.0.0.1", validation_alias="SHOP_HOST")
    port: int = Field(default=8100, validation_alias="SHOP_PORT")
    # HS256 key for the users service's tokens; `sentrail shop` makes one per run.
    jwt_secret: str = Field(default="", validation_alias="SHOP_JWT_SECRET")
    # Faults to start with, as JSON (see shop/faults.py); switchable later at /admin/faults.
    faults: str = Field(default="{}", validation_alias="SHOP_FAULTS")
    # Queue behaviour: a message not acknowledged after `claim_idle_ms` is redelivered; after
    # `max_deliveries` it goes to the dead-letter stream.
    claim_idle_ms: int = Field(default=2000, validation_alias="SHOP_CLAIM_IDLE_MS")
    max_deliveries: int = Field(default=3, validation_alias="SHOP_MAX_DELIVERIES")
    traces_sample_rate: float = Field(default=1.0, validation_alias="SHOP_TRACES_SAMPLE_RATE")

    @property
    def release(self) -> str:
        return self.sentry_release or git_sha() or "unknown"

    def port_of(self, service: str) -> int:
        return self.port + SERVICES.index(service)

    def url_of(self, service: str) -> str:
        return f"http://{self.host}:{self.port_of(service)}"
