"""The rules file: flows, the old `[journey]` table, and what is refused."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from rules.config import CorrelationRules, current_rules, load_rules

KEYS = [{"name": "order_id"}, {"name": "refund_id"}, {"name": "trace_ref"}]
HOPS = [{"service": "web", "name": "asked"}, {"service": "billing", "name": "paid"}]


def test_the_old_journey_table_is_the_checkout_flow() -> None:
    rules = CorrelationRules.model_validate(
        {"keys": KEYS, "journey": {"key": "order_id", "stall_after": 90, "hops": HOPS}}
    )
    [flow] = rules.flows
    assert (flow.name, flow.key, flow.stall_after, flow.learns) == (
        "checkout",
        "order_id",
        90,
        False,
    )
    assert rules.journey is flow


def test_flows_each_with_a_key_of_their_own() -> None:
    rules = CorrelationRules.model_validate(
        {
            "keys": KEYS,
            "flows": [
                {"name": "checkout", "key": "order_id", "entry": "web", "hops": HOPS},
                {"name": "refund", "key": "refund_id", "stall_after": 600},
            ],
        }
    )
    assert [(f.name, f.learns, f.learn_min_journeys, f.learn_support) for f in rules.flows] == [
        ("checkout", False, 20, 0.6),
        ("refund", True, 20, 0.6),
    ]


@pytest.mark.parametrize(
    ("flows", "problem"),
    [
        ([{"name": "a", "key": "nope"}], "not one of the"),
        ([{"name": "a", "key": "order_id"}, {"name": "b", "key": "order_id"}], "key of its own"),
        ([{"name": "a", "key": "order_id"}, {"name": "a", "key": "refund_id"}], "unique"),
        ([{"name": "a", "key": "order_id", "entry": "billing", "hops": HOPS}], "first hop"),
        ([{"name": "Not A Slug", "key": "order_id"}], "pattern"),
        ([], "at least 1"),
    ],
)
def test_bad_flows_are_refused(flows: list[dict[str, object]], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        CorrelationRules.model_validate({"keys": KEYS, "flows": flows})


def test_stall_after_from_the_environment_applies_to_every_flow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        '[[keys]]\nname = "a"\n[[keys]]\nname = "b"\n'
        '[[flows]]\nname = "one"\nkey = "a"\nstall_after = 10\n'
        '[[flows]]\nname = "two"\nkey = "b"\n'
    )
    assert [f.stall_after for f in load_rules(path).flows] == [10, 300]
    monkeypatch.setenv("SENTRAIL_CORRELATION_CONFIG", str(path))
    monkeypatch.setenv("SENTRAIL_STALL_AFTER", "42")
    current_rules.cache_clear()
    try:
        assert [f.stall_after for f in current_rules().flows] == [42, 42]
    finally:
        current_rules.cache_clear()
