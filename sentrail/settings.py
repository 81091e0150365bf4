from typing import Literal

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Role = Literal["collector", "correlator", "dashboard"]
ALL_ROLES: frozenset[Role] = frozenset({"collector", "correlator", "dashboard"})


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SENTRAIL_", env_file=".env", extra="ignore")

    # The address SDKs reach sentrail at, used to print DSNs. Defaults to the serve address.
    public_url: str | None = None
    # What this process runs (set by `sentrail collector|correlator|dashboard`; `serve` runs all).
    roles: frozenset[Role] = ALL_ROLES

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("SENTRAIL_PUBLIC_URL must start with http:// or https://")
        return url.rstrip("/") if url else url
