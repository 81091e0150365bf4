from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SENTRAIL_", env_file=".env", extra="ignore")

    # The address SDKs reach sentrail at, used to print DSNs. Defaults to the serve address.
    public_url: str | None = None

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("SENTRAIL_PUBLIC_URL must start with http:// or https://")
        return url.rstrip("/") if url else url
