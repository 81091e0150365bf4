"""The alert rules file: what it accepts, the default rules, and errors that name the line."""

from pathlib import Path

import pytest

from rules.alerts import (
    DEFAULT_TARGET,
    AlertRulesError,
    AlertSettings,
    alert_rules,
    load_alert_rules,
)
from sentrail.settings import known_names

GOOD = """
[[targets]]
name = "ops"
kind = "webhook"
url = "http://127.0.0.1:9/hook"
secret = "s3cret"

[[targets]]
name = "mail"
kind = "email"
host = "127.0.0.1"
port = 2525
to = ["oncall@example.com"]

[[rules]]
name = "shipping-stalls"
condition = "orders_stalled"
window = 300
threshold = 0.2
measure = "share"
service = "shipping"
targets = ["ops", "mail"]

[[rules]]
name = "crons"
condition = "missed_checkin"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "alerts.toml"
    path.write_text(text)
    return path


def test_a_good_file_is_read_with_each_rules_targets(tmp_path: Path) -> None:
    rules = load_alert_rules(write(tmp_path, GOOD))
    stalls, crons = rules.rules
    assert (stalls.condition, stalls.window, stalls.measure, stalls.threshold) == (
        "orders_stalled",
        300,
        "share",
        0.2,
    )
    assert [t.name for t in rules.targets_of(stalls)] == ["ops", "mail"]
    assert [t.name for t in rules.targets_of(crons)] == ["ops", "mail"]  # none named: all


def test_a_toml_syntax_error_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("window = 300", "window = = 300"))
    with pytest.raises(AlertRulesError, match=r"not valid TOML: .*line 18"):
        load_alert_rules(path)


def test_a_bad_value_names_the_line_of_its_field(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace('condition = "missed_checkin"', 'condition = "psychic"'))
    with pytest.raises(AlertRulesError) as error:
        load_alert_rules(path)
    assert "line 26: rules.1.condition" in error.value.detail, error.value.detail
    assert str(path) in error.value.detail


def test_an_unknown_target_and_a_share_over_one_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AlertRulesError, match="unknown target"):
        load_alert_rules(write(tmp_path, GOOD.replace('"ops", "mail"]', '"pager"]')))
    with pytest.raises(AlertRulesError, match=r"line 15: rules.0: .*share threshold is at most 1"):
        load_alert_rules(write(tmp_path, GOOD.replace("threshold = 0.2", "threshold = 3")))
    with pytest.raises(AlertRulesError, match=r"line 8: targets.1: .*needs host and to"):
        load_alert_rules(write(tmp_path, GOOD.replace('to = ["oncall@example.com"]', "")))


def test_the_webhook_url_alone_sends_the_default_rules_to_one_signed_webhook() -> None:
    rules = alert_rules(AlertSettings(webhook_url="http://hooks.test/x", webhook_secret="k"))
    assert [(t.name, t.kind, t.secret) for t in rules.targets] == [(DEFAULT_TARGET, "webhook", "k")]
    assert {r.condition for r in rules.rules} == {
        "orders_stalled",
        "orders_failed",
        "release_regression",
    }
    assert alert_rules(AlertSettings()).rules == []


def test_a_webhook_url_beside_a_file_is_one_more_target(tmp_path: Path) -> None:
    settings = AlertSettings(rules=write(tmp_path, GOOD), webhook_url="http://hooks.test/x")
    assert [t.name for t in alert_rules(settings).targets] == ["ops", "mail", DEFAULT_TARGET]


def test_every_alert_setting_is_a_known_name() -> None:
    assert {
        "SENTRAIL_ALERT_RULES",
        "SENTRAIL_ALERT_WEBHOOK_URL",
        "SENTRAIL_ALERT_WEBHOOK_SECRET",
        "SENTRAIL_ALERT_DASHBOARD_URL",
        "SENTRAIL_ALERT_INTERVAL",
    } <= known_names()


@pytest.mark.parametrize("window", ["inf", "nan", "1e12", "2600000"])
def test_a_window_that_is_not_a_real_span_is_refused_on_its_line(
    tmp_path: Path, window: str
) -> None:
    """An endless or huge window loaded, then failed every evaluation (OverflowError)."""
    path = write(tmp_path, GOOD.replace("window = 300", f"window = {window}"))
    with pytest.raises(AlertRulesError, match=r"line 18: rules.0.window"):
        load_alert_rules(path)


def test_an_unknown_target_and_a_repeated_name_name_their_line(tmp_path: Path) -> None:
    with pytest.raises(AlertRulesError, match=r"line 22: rules.0.targets: .*unknown target"):
        load_alert_rules(write(tmp_path, GOOD.replace('"ops", "mail"]', '"pager"]')))
    twice = GOOD.replace('name = "crons"', 'name = "shipping-stalls"')
    with pytest.raises(AlertRulesError, match=r"line 25: rules.1.name: .*unique"):
        load_alert_rules(write(tmp_path, twice))


def test_a_webhook_url_keeps_its_trailing_slash_the_dashboard_url_loses_it() -> None:
    settings = AlertSettings(webhook_url="http://hooks.test/x/", dashboard_url="http://d.test/")
    assert (settings.webhook_url, settings.dashboard_url) == (
        "http://hooks.test/x/",
        "http://d.test",
    )
