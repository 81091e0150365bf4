import re
import tomllib
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

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
    """The old `[journey]` table: one flow, read as the flow named "checkout"."""

    key: str
    stall_after: float = Field(default=300, gt=0)
    hops: list[Hop] = Field(min_length=1)


LEGACY_FLOW = "checkout"


class FlowRule(BaseModel):
    """One kind of journey (checkout, refund, renewal …): the key whose values make its
    journeys, and the hops they are expected to make. Without `hops` the flow learns them from
    its completed journeys (`learn_min_journeys` of them, a service counting when it appears in
    at least `learn_support` of them)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")
    key: str
    entry: str | None = None
    stall_after: float = Field(default=300, gt=0)
    hops: list[Hop] = []
    learn_min_journeys: int = Field(default=20, ge=1)
    learn_support: float = Field(default=0.6, gt=0, le=1)

    @model_validator(mode="after")
    def _entry_is_the_first_hop(self) -> "FlowRule":
        if self.entry and self.hops and self.hops[0].service != self.entry:
            raise ValueError(f"flow {self.name!r}: entry {self.entry!r} is not its first hop")
        return self

    @property
    def learns(self) -> bool:
        """No declared hops: the path is learned from the flow's completed journeys."""
        return not self.hops


DEFAULT_SCOPE = "default"


class ScopeRule(BaseModel):
    """Projects whose events may make one journey together. Projects no scope names are the
    "default" scope: with no [[scopes]] at all, every project correlates with every other."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")
    projects: list[str] = Field(min_length=1)


class CorrelationRules(BaseModel):
    keys: list[KeyRule] = Field(min_length=1)
    flows: list[FlowRule] = Field(min_length=1)
    scopes: list[ScopeRule] = []

    def scope_of(self, project: str) -> str:
        """The scope of a project, by its name."""
        return next((s.name for s in self.scopes if project in s.projects), DEFAULT_SCOPE)

    @model_validator(mode="before")
    @classmethod
    def _journey_table_is_the_checkout_flow(cls, data: Any) -> Any:
        """Rules files written before flows keep working: `[journey]` is one flow."""
        if isinstance(data, dict) and "journey" in data and "flows" not in data:
            data = dict(data)
            journey = JourneyRule.model_validate(data.pop("journey"))
            data["flows"] = [{"name": LEGACY_FLOW, **journey.model_dump()}]
        return data

    @model_validator(mode="after")
    def _flow_keys_are_known(self) -> "CorrelationRules":
        names = [rule.name for rule in self.keys]
        if len(set(names)) != len(names):
            raise ValueError("each [[keys]] name must be unique")
        flow_names = self.flow_names
        if len(set(flow_names)) != len(flow_names):
            raise ValueError("each [[flows]] name must be unique")
        flow_keys = [flow.key for flow in self.flows]
        if len(set(flow_keys)) != len(flow_keys):
            raise ValueError("each [[flows]] entry needs a key of its own")
        for flow in self.flows:
            if flow.key not in names:
                raise ValueError(f"flow {flow.name!r}: key {flow.key!r} is not one of the [[keys]]")
        return self

    @model_validator(mode="after")
    def _each_project_in_one_scope(self) -> "CorrelationRules":
        scope_names = [scope.name for scope in self.scopes]
        if DEFAULT_SCOPE in scope_names or len(set(scope_names)) != len(scope_names):
            raise ValueError(f"each [[scopes]] name must be unique and not {DEFAULT_SCOPE!r}")
        listed = Counter(project for scope in self.scopes for project in scope.projects)
        twice = sorted(project for project, count in listed.items() if count > 1)
        if twice:
            raise ValueError(f"a project belongs to one scope at most: {', '.join(twice)}")
        return self

    @property
    def journey(self) -> FlowRule:
        """The first flow: what the one `[journey]` table used to be."""
        return self.flows[0]

    @property
    def flow_names(self) -> list[str]:
        """The flows' names in the file's order (the order an order's journeys are preferred in)."""
        return [flow.name for flow in self.flows]

    @property
    def flow_of_key(self) -> dict[str, str]:
        """Key name -> the flow whose journeys its values make (every other key is a link)."""
        return {flow.key: flow.name for flow in self.flows}

    def flow(self, name: str) -> FlowRule:
        """The flow of that name; the first flow for a name no longer in the rules."""
        return next((flow for flow in self.flows if flow.name == name), self.journey)


class RulesSettings(SentrailSettings):
    correlation_config: Path = DEFAULT_RULES
    stall_after: float | None = Field(default=None, gt=0)


def load_rules(path: Path) -> CorrelationRules:
    with path.open("rb") as file:
        return CorrelationRules.model_validate(tomllib.load(file))


@cache
def current_rules() -> CorrelationRules:
    """The rules in force: the configured file, with SENTRAIL_STALL_AFTER applied on top (to
    every flow)."""
    settings = RulesSettings()
    rules = load_rules(settings.correlation_config)
    if settings.stall_after is not None:
        for flow in rules.flows:
            flow.stall_after = settings.stall_after
    return rules
