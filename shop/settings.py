"""The shop's settings: what a customer's system knows (its DSN, release, Redis), nothing more."""

import subprocess  # nosec B404  # `git rev-parse` for the release
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES = ("frontend", "users", "catalog", "cart", "order", "payment", "shipping")


def dsn_variable(service: str) -> str:
    """`SENTRY_DSN_<SERVICE>`: how whoever starts the seven processes names one service's DSN
    (each service has a Sentry project of its own, as real teams set it up)."""
    return f"SENTRY_DSN_{service.upper()}"


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

    # Sentry's standard variables, as any service reads them. A service process reads its DSN
    # from SENTRY_DSN; `sentrail shop` starts all seven, so it takes one DSN per service
    # (SENTRY_DSN_<SERVICE>, one project each) and passes each process its own as SENTRY_DSN.
    # SENTRY_DSN is the fallback for the services without one.
    sentry_dsn: str | None = Field(default=None, validation_alias="SENTRY_DSN")
    sentry_dsn_frontend: str | None = Field(default=None, validation_alias="SENTRY_DSN_FRONTEND")
    sentry_dsn_users: str | None = Field(default=None, validation_alias="SENTRY_DSN_USERS")
    sentry_dsn_catalog: str | None = Field(default=None, validation_alias="SENTRY_DSN_CATALOG")
    sentry_dsn_cart: str | None = Field(default=None, validation_alias="SENTRY_DSN_CART")
    sentry_dsn_order: str | None = Field(default=None, validation_alias="SENTRY_DSN_ORDER")
    sentry_dsn_payment: str | None = Field(default=None, validation_alias="SENTRY_DSN_PAYMENT")
    sentry_dsn_shipping: str | None = Field(default=None, validation_alias="SENTRY_DSN_SHIPPING")
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

    def dsn_of(self, service: str) -> str | None:
        """The DSN `service` sends to: its own if set, else SENTRY_DSN (None: SDK disabled)."""
        if service not in SERVICES:
            raise ValueError(f"not a shop service: {service!r}")
        own: str | None = getattr(self, f"sentry_dsn_{service}")
        return own or self.sentry_dsn

    def with_dsns(self, dsns: Mapping[str, str]) -> "ShopSettings":
        """A copy with these services' DSNs set (service name → DSN), the others unchanged."""
        unknown = set(dsns) - set(SERVICES)
        if unknown:
            raise ValueError(f"not shop services: {sorted(unknown)}")
        return self.model_copy(update={f"sentry_dsn_{s}": d for s, d in dsns.items()})

    def port_of(self, service: str) -> int:
        return self.port + SERVICES.index(service)

    def url_of(self, service: str) -> str:
        return f"http://{self.host}:{self.port_of(service)}"
