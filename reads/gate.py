"""The release gate: is a release at least as healthy as its baseline? (docs/reference.md#gate)

A deploy pipeline asks this after the release has taken some traffic. The answer is one of
three, because "not enough data yet" must never read as "healthy": `pass`, `fail` (with the
reasons) or `insufficient_data` (with what is missing).
"""

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.orm import Session

from reads.releases import release_health

Verdict = Literal["pass", "fail", "insufficient_data"]


@dataclass(frozen=True)
class GateLimits:
    baseline: str | None = None  # default: the release before it in the same environment
    environment: str | None = None
    min_orders: int = 20  # finished orders (completed, failed, stalled) each release needs
    max_success_drop: float = 0.02  # order success rate may fall by at most this much
    max_crash_free_drop: float = 0.01  # crash-free sessions may fall by at most this much
    no_new_issues: bool = False  # any issue first seen in the release fails it


def release_gate(session: Session, version: str, limits: GateLimits) -> dict[str, Any] | None:
    """The verdict on `version`; None when nothing was ever seen of it."""
    health = release_health(session, version, limits.environment)
    if health is None:
        return None
    baseline_version = limits.baseline or health["previous_release"]
    baseline = (
        release_health(session, baseline_version, limits.environment) if baseline_version else None
    )
    missing = _missing_data(version, health, baseline_version, baseline, limits.min_orders)
    checks = [] if missing else _checks(health, baseline or {}, limits)
    failed = [c["reason"] for c in checks if c["passed"] is False]
    verdict: Verdict = "insufficient_data" if missing else ("fail" if failed else "pass")
    return {
        "version": version,
        "baseline": baseline_version,
        "verdict": verdict,
        "reasons": missing or failed,
        "checks": checks,
    }


def _finished(health: dict[str, Any]) -> int:
    orders = health["orders"]
    return int(orders["completed"] + orders["failed"] + orders["stalled"])


def _missing_data(
    version: str,
    health: dict[str, Any],
    baseline_version: str | None,
    baseline: dict[str, Any] | None,
    min_orders: int,
) -> list[str]:
    if baseline_version is None:
        return [f"{version} has no earlier release to compare with; pass --baseline"]
    if baseline is None:
        return [f"baseline {baseline_version} was never seen"]
    return [
        f"{name} has {_finished(numbers)} finished orders, fewer than {min_orders}"
        for name, numbers in ((version, health), (baseline_version, baseline))
        if _finished(numbers) < min_orders
    ]


def _checks(
    health: dict[str, Any], baseline: dict[str, Any], limits: GateLimits
) -> list[dict[str, Any]]:
    checks = [
        _drop_check("order_success_rate", health, baseline, limits.max_success_drop),
        _drop_check("crash_free_sessions", health, baseline, limits.max_crash_free_drop),
    ]
    if limits.no_new_issues:
        count = int(health["new_issue_count"])
        titles = ", ".join(repr(i["title"][:80]) for i in health["new_issues"][:3])
        checks.append(
            {
                "name": "new_issues",
                "value": count,
                "baseline": None,
                "limit": 0,
                "passed": count == 0,
                "reason": f"{count} new issues: {titles}" if count else "no new issue",
            }
        )
    return checks


def _drop_check(
    name: str, health: dict[str, Any], baseline: dict[str, Any], max_drop: float
) -> dict[str, Any]:
    """`name` may fall below the baseline's by at most `max_drop`. A rate either side lacks
    (no sessions sent) cannot be judged: the check says so and does not decide."""
    value, before = health[name], baseline[name]
    check: dict[str, Any] = {"name": name, "value": value, "baseline": before, "limit": max_drop}
    if value is None or before is None:
        check |= {"passed": None, "reason": f"{name}: not measured on both releases"}
        return check
    drop = round(before - value, 6)
    passed = drop <= max_drop
    check["passed"] = passed
    check["reason"] = f"{name} {value:.2%} against {before:.2%}: " + (
        f"fell by {drop:.2%}, more than {max_drop:.2%}" if not passed else "within limits"
    )
    return check
