from pydantic import field_validator

from store.settings import SentrailSettings


class DashboardSettings(SentrailSettings):
    # When set, the dashboard and the read API require it (Bearer token or login cookie).
    dashboard_token: str | None = None

    @field_validator("dashboard_token")
    @classmethod
    def _long_enough(cls, token: str | None) -> str | None:
        if token is not None and token.strip() == "":
            return None
        if token is not None and len(token) < 16:
            raise ValueError("SENTRAIL_DASHBOARD_TOKEN must be at least 16 characters")
        return token
