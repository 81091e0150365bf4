"""Alert rules: which conditions to watch and whom to tell (docs/reference.md#alerts).

A TOML file beside the correlation rules (`SENTRAIL_ALERT_RULES`) lists `[[targets]]` (signed
webhooks, Slack-compatible incoming webhooks, email) and `[[rules]]` (a condition, a window, a
threshold, the targets to tell). Without a file, `SENTRAIL_ALERT_WEBHOOK_URL` alone sends the
default rules (`default_rules`) to that one signed webhook. A file that cannot be used is refused
with the line of each problem (`load_alert_rules`).
"""

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import SettingsConfigDict

from store.errors import SentrailError
from store.settings import PREFIX, SentrailSettings

Condition = Literal[
    "orders_stalled",
    "orders_failed",
    "release_regression",
    "new_issue",
    "error_spike",
    "missed_checkin",
]
CONDITIONS: tuple[str, ...] = Condition.__args__  # type: ignore[attr-defined]
DEFAULT_TARGET = "webhook"
SHARE_MIN_ORDERS = 10  # orders a share needs when its rule sets no `min_orders`
MAX_WINDOW = 30 * 86400.0  # seconds: the longest window a rule may look back
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class AlertRulesError(SentrailError):
    """An alert rules file that cannot be used; the message names the file and line."""


class _Misplaced(ValueError):
    """A problem found across entries (an unknown target, a repeated name): `loc` is the
    field it is on, e.g. ("rules", 1, "name"), so the message names that line."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


class AlertSettings(SentrailSettings):
    """Alerts (`SENTRAIL_ALERT_*`): evaluated by the correlator role, delivered by its thread."""

    model_config = SettingsConfigDict(env_prefix=f"{PREFIX}ALERT_")

    # The alert rules file (TOML, docs/reference.md#alert-rules); unset: the default rules,
    # sent to `webhook_url` when it is set, else no alerts at all.
    rules: Path | None = None
    # The simplest set-up: one signed webhook that gets the default rules.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    # The dashboard's address as people open it: every notification links to a page there.
    # Unset: SENTRAIL_PUBLIC_URL, else http://127.0.0.1:8000.
    dashboard_url: str | None = None
    # Seconds between two evaluations of the rules.
    interval: float = Field(default=5.0, gt=0, le=3600)
    # Attempts per notification before it is dead-lettered; the wait before attempt n+1 is
    # `retry_backoff` * 2^(n-1) seconds, at most `retry_backoff_max`.
    max_attempts: int = Field(default=6, ge=1, le=50)
    retry_backoff: float = Field(default=2.0, gt=0, le=3600)
    retry_backoff_max: float = Field(default=600.0, gt=0)
    # Per attempt: a slow target is given up on after this many seconds (and retried).
    timeout: float = Field(default=10.0, gt=0, le=300)
    # Notifications sent at once: a slow target holds at most this many senders.
    concurrency: int = Field(default=4, ge=1, le=64)

    @field_validator("webhook_url", "dashboard_url")
    @classmethod
    def _http_url(cls, url: str | None, info: ValidationInfo) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("alert URLs must start with http:// or https://")
        if url and info.field_name == "dashboard_url":
            return url.rstrip("/")  # page paths are appended to it; a webhook is used as is
        return url


class Target(BaseModel):
    """Where notifications go. `webhook`: a signed JSON POST; `slack`: a Slack-compatible
    incoming webhook (`{"text": ...}`); `email`: a message over SMTP."""

    model_config = {"extra": "forbid"}

    name: str = Field(pattern=NAME)
    kind: Literal["webhook", "slack", "email"]
    url: str | None = None
    secret: str | None = None  # webhook: the HMAC-SHA256 key
    host: str | None = None  # email: the SMTP server
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    sender: str = "sentrail@localhost"
    to: list[str] = []

    @model_validator(mode="after")
    def _complete(self) -> "Target":
        if self.kind in ("webhook", "slack"):
            if not self.url or not self.url.startswith(("http://", "https://")):
                raise ValueError(f"target {self.name!r}: a {self.kind} needs an http(s) url")
        elif not self.host or not self.to:
            raise ValueError(f"target {self.name!r}: an email target needs host and to")
        return self


class Rule(BaseModel):
    """One condition watched over a sliding window; fires when the measure reaches the
    threshold, once per group (flow and service, release, issue, monitor) until it clears."""

    model_config = {"extra": "forbid"}

    name: str = Field(pattern=NAME)
    condition: Condition
    window: float = Field(default=600, gt=0, le=MAX_WINDOW, allow_inf_nan=False)  # seconds
    threshold: float = Field(default=1, gt=0, allow_inf_nan=False)
    # orders_stalled / orders_failed: a count of orders, or their share of the orders seen in
    # the window (then `min_orders` of them at least; unset: SHARE_MIN_ORDERS).
    measure: Literal["count", "share"] = "count"
    # release_regression: finished orders each release needs; unset: the gate's default.
    min_orders: int | None = Field(default=None, ge=1)
    flow: str | None = None
    service: str | None = None  # the missing, failing or erring service; unset: each
    # release_regression: as `sentrail release gate`'s limits; unset: the gate's defaults
    # (reads/gate.py GateLimits), so the default rule and the gate never disagree.
    max_success_drop: float | None = Field(default=None, ge=0, le=1)
    max_crash_free_drop: float | None = Field(default=None, ge=0, le=1)
    # error_spike: errors in the window against the mean of the `baseline_windows` before it
    factor: float = Field(default=3.0, gt=1, allow_inf_nan=False)
    baseline_windows: int = Field(default=6, ge=1, le=100)
    targets: list[str] = []  # empty: every target

    @model_validator(mode="after")
    def _share_is_a_fraction(self) -> "Rule":
        if self.measure == "share" and self.threshold > 1:
            raise ValueError(f"rule {self.name!r}: a share threshold is at most 1")
        return self


class AlertRules(BaseModel):
    model_config = {"extra": "forbid"}

    targets: list[Target] = []
    rules: list[Rule] = []

    @model_validator(mode="after")
    def _names_known_and_unique(self) -> "AlertRules":
        """The first repeated name, else the first unknown target, on its own line."""
        for kind, names in (
            ("targets", [t.name for t in self.targets]),
            ("rules", [r.name for r in self.rules]),
        ):
            for i, name in enumerate(names):
                if name in names[:i]:
                    raise _Misplaced(
                        (kind, i, "name"), f"each [[{kind}]] name must be unique: {name}"
                    )
        known = {t.name for t in self.targets}
        for i, rule in enumerate(self.rules):
            unknown = sorted(set(rule.targets) - known)
            if unknown:
                raise _Misplaced(
                    ("rules", i, "targets"),
                    f"rule {rule.name!r}: unknown target(s) {', '.join(unknown)}",
                )
        return self

    def targets_of(self, rule: Rule) -> list[Target]:
        return [t for t in self.targets if not rule.targets or t.name in rule.targets]


def default_rules(url: str, secret: str | None) -> AlertRules:
    """What `SENTRAIL_ALERT_WEBHOOK_URL` alone sends: any stalled order, a spike of failed
    orders, a release regression."""
    return AlertRules(
        targets=[Target(name=DEFAULT_TARGET, kind="webhook", url=url, secret=secret)],
        rules=[
            Rule(name="stalled-orders", condition="orders_stalled", window=3600, threshold=1),
            Rule(name="failed-orders", condition="orders_failed", window=600, threshold=5),
            Rule(name="release-regression", condition="release_regression", window=86400),
        ],
    )


def alert_rules(settings: AlertSettings) -> AlertRules:
    """The rules in force: the file, else the default rules to the one webhook, else none. A
    webhook URL beside a file is one more target (named "webhook") the file's rules may use."""
    if settings.rules is not None:
        rules = load_alert_rules(settings.rules)
        if settings.webhook_url and DEFAULT_TARGET not in {t.name for t in rules.targets}:
            hook = Target(
                name=DEFAULT_TARGET,
                kind="webhook",
                url=settings.webhook_url,
                secret=settings.webhook_secret,
            )
            rules = AlertRules(targets=[*rules.targets, hook], rules=rules.rules)
        return rules
    if settings.webhook_url:
        return default_rules(settings.webhook_url, settings.webhook_secret)
    return AlertRules()


def load_alert_rules(path: Path) -> AlertRules:
    """The rules of `path`, or AlertRulesError naming the file and the line of each problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AlertRulesError(f"{path}: cannot read: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AlertRulesError(f"{path}: not valid TOML: {exc}") from None
    try:
        return AlertRules.model_validate(data)
    except ValidationError as exc:
        lines = [f"{path}: {exc.error_count()} problem(s):"]
        for error in exc.errors():
            found = (error.get("ctx") or {}).get("error")
            loc = found.loc if isinstance(found, _Misplaced) else error["loc"]
            where = ".".join(str(part) for part in loc) or "(file)"
            line = line_of(text, loc)
            lines.append(f"  line {line}: {where}: {error['msg']}")
        raise AlertRulesError("\n".join(lines)) from None


def line_of(text: str, loc: tuple[Any, ...]) -> int:
    """The line a validation error's location points at: the field's own line within its
    `[[table]]` entry, else the entry's header, else 1."""
    lines = text.splitlines()
    if len(loc) < 2 or not isinstance(loc[1], int):
        return 1
    headers = [i for i, line in enumerate(lines) if re.match(rf"^\s*\[\[\s*{loc[0]}\s*\]\]", line)]
    if loc[1] >= len(headers):
        return 1
    start = headers[loc[1]]
    end = next(
        (i for i in range(start + 1, len(lines)) if re.match(r"^\s*\[", lines[i])), len(lines)
    )
    if len(loc) > 2:
        field = re.compile(rf"^\s*{re.escape(str(loc[2]))}\s*=")
        for i in range(start + 1, end):
            if field.match(lines[i]):
                return i + 1
    return start + 1
