"""Every setting of a sentrail process, built in one place (`load_settings`).

Each package keeps the class for its own knobs (store, collector, correlator, dashboard, rules;
the server's own below); this module composes them and refuses, at start-up, a `SENTRAIL_`
variable that none of them knows — a typo like `SENTRAIL_DATABSE_URL` would otherwise leave the
default in force without a word. docs/reference.md lists every setting.
"""

import difflib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from pydantic import AliasChoices, field_validator
from pydantic_settings import BaseSettings

from collector.settings import CollectorSettings
from correlator.settings import CorrelatorSettings, MonitorSettings
from dashboard.settings import DashboardSettings
from rules.alerts import AlertSettings
from rules.config import RulesSettings
from shop.settings import ShopSettings
from store.errors import SentrailError
from store.settings import PREFIX, DatabaseSettings, SentrailSettings

Role = Literal["collector", "correlator", "dashboard"]
ALL_ROLES: frozenset[Role] = frozenset({"collector", "correlator", "dashboard"})
# The test suite's own variables (where its PostgreSQL and Redis are), never read by sentrail.
TEST_PREFIX = f"{PREFIX}TEST_"


class ServerSettings(SentrailSettings):
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


SETTINGS_CLASSES: tuple[type[BaseSettings], ...] = (
    DatabaseSettings,
    CollectorSettings,
    CorrelatorSettings,
    MonitorSettings,
    DashboardSettings,
    RulesSettings,
    AlertSettings,
    ServerSettings,
    ShopSettings,
)


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings
    collector: CollectorSettings
    correlator: CorrelatorSettings
    dashboard: DashboardSettings
    rules: RulesSettings
    server: ServerSettings
    monitors: MonitorSettings
    alerts: AlertSettings


class UnknownSetting(SentrailError):
    pass


def known_names(classes: Iterable[type[BaseSettings]] = SETTINGS_CLASSES) -> set[str]:
    """Every `SENTRAIL_` variable some settings class reads."""
    names = set()
    for cls in classes:
        prefix = str(cls.model_config.get("env_prefix") or "")
        for name, field in cls.model_fields.items():
            alias = field.validation_alias
            if isinstance(alias, str):
                names.add(alias.upper())
            elif isinstance(alias, AliasChoices):
                names.update(str(choice).upper() for choice in alias.choices)
            else:
                names.add(f"{prefix}{name}".upper())
    return {name for name in names if name.startswith(PREFIX)}


def check_environment(
    environ: Mapping[str, str | None] = os.environ, env_file: Path = Path(".env")
) -> None:
    """Refuses `SENTRAIL_` variables (in the environment or `.env`) that nothing reads."""
    given = set(environ)
    if env_file.is_file():
        given |= set(dotenv_values(env_file))
    known = known_names()
    unknown = sorted(
        name
        for name in given
        if name.upper().startswith(PREFIX)
        and not name.upper().startswith(TEST_PREFIX)
        and name.upper() not in known
    )
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name.upper(), sorted(known), n=1)
            hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
        raise UnknownSetting(
            "unknown setting(s): " + ", ".join(hints) + "; docs/reference.md lists every setting"
        )


def load_settings() -> Settings:
    """The settings of this process, from the environment and `.env`, checked once."""
    check_environment()
    return Settings(
        database=DatabaseSettings(),
        collector=CollectorSettings(),
        correlator=CorrelatorSettings(),
        dashboard=DashboardSettings(),
        rules=RulesSettings(),
        server=ServerSettings(),
        monitors=MonitorSettings(),
        alerts=AlertSettings(),
    )
