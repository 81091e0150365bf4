import re
import tomllib
from functools import cache
from pathlib import Path

from pydantic import BaseModel, Field, field_validator, model_validator

from store.settings import SentrailSettings

DEFAULT_RULES = Path(__file__).with_name("acme.toml")


class KeyRule(BaseModel):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    tags: list[str] = []
    breadcrumb_data: list[str] = []
    extra: list[str] = []
    # Dotted paths into the event's contexts: "order.id" reads contexts["order"]["id"].
    contexts: list[str] = []
    patterns: list[str] = []
    ignore_values: list[str] = []

    @field_validator("patterns")
    @classmethod
    def _compiles_with_value_group(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} does not compile: {exc}") from exc
            if "value" not in compiled.groupindex:
                raise ValueError(f"pattern {pattern!r} needs a (?P<value>...) group")
        return patterns


class Hop(BaseModel):
    service: str
    name: str


class JourneyRule(BaseModel):
    key: str
    stall_after: float = Field(default=300, gt=0)
    hops: list[Hop] = Field(min_length=1)


class CorrelationRules(BaseModel):
    keys: list[KeyRule] = Field(min_length=1)
    journey: JourneyRule

    @model_validator(mode="after")
    def _journey_key_is_known(self) -> "CorrelationRules":
        names = [rule.name for rule in self.keys]
        if len(set(names)) != len(names):
            raise ValueError("each [[keys]] name must be unique")
        if self.journey.key not in names:
            raise ValueError(f"journey key {self.journey.key!r} is not one of the [[keys]]")
        return self


class RulesSettings(SentrailSettings):
    correlation_config: Path = DEFAULT_RULES
    stall_after: float | None = Field(default=None, gt=0)


def load_rules(path: Path) -> CorrelationRules:
    with path.open("rb") as file:
        return CorrelationRules.model_validate(tomllib.load(file))


@cache
def current_rules() -> CorrelationRules:
    """The rules in force: the configured file, with SENTRAIL_STALL_AFTER applied on top."""
    settings = RulesSettings()
    rules = load_rules(settings.correlation_config)
    if settings.stall_after is not None:
        rules.journey.stall_after = settings.stall_after
    return rules
