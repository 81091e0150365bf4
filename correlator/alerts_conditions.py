"""What each alert condition finds now (docs/reference.md#alert-rules): one `Finding` per group
(flow and service, release, monitor) whose measure reaches the rule's threshold.

Read-only, on a Session, without the write lock. Release regressions are the release gate's
verdict (reads/gate.py), so an alert and `sentrail release gate` never disagree.
"""

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reads.gate import GateLimits, release_gate
from rules.alerts import SHARE_MIN_ORDERS, Rule
from rules.config import current_rules
from store.models import Event, Issue, Journey, JourneyLabel, Monitor, SessionCount
from store.statuses import FAILED, STALLED

# Journeys read per evaluation of one order rule: past this the counts are lower bounds.
MAX_ORDERS = 50_000
MAX_RELEASES = 20  # releases judged per evaluation of one regression rule
GROUP_VALUE = 200  # characters of one value in a group key; past it, cut and hashed


@dataclass(frozen=True)
class Finding:
    group: str  # the group's key: "flow=checkout service=shipping", "release=2.1"
    value: float
    summary: str
    path: str  # the dashboard page that shows it, from the dashboard's root
    details: dict[str, Any] = field(default_factory=dict)


Evaluate = Callable[[Session, Rule, datetime], list[Finding]]


def group_key(**parts: object) -> str:
    """The key a rule groups by, e.g. "flow=checkout service=shipping" or "release=2.1". A
    value longer than GROUP_VALUE (a release may be 250 characters) is cut and followed by a
    hash of the whole value, so the key fits `alert.group_key` and two long values sharing a
    prefix stay two groups."""
    values = []
    for name, value in parts.items():
        text = str(value)
        if len(text) > GROUP_VALUE:
            digest = hashlib.sha256(text.encode()).hexdigest()[:12]
            text = f"{text[: GROUP_VALUE - 13]}~{digest}"
        values.append(f"{name}={text}")
    return " ".join(values)


def _orders(
    session: Session, rule: Rule, now: datetime, status: str
) -> list[tuple[str, str, int, int]]:
    """(flow, service, orders in that state, orders seen in the flow) per group; the service
    is the missing one for a stall, the failing one for a failure.

    A failure counts while the order's last event is within the window. A stall counts while
    the stall itself is: the order stalled `stall_after` (its flow's) after its last event,
    which never moves while it stays stalled, so the stall is seen for a whole window, even a
    window shorter than `stall_after`. A share's orders are those of the flow seen since the
    same moment."""
    since = now - timedelta(seconds=rule.window)
    counts = (
        _stalled_by_service(session, rule, since)
        if status == STALLED
        else _failed_by_service(session, rule, since)
    )
    totals: dict[str, int] = {}
    if rule.measure == "share":
        for flow in {f for f, _ in counts}:
            seen = since - _stall_after(flow) if status == STALLED else since
            totals[flow] = int(
                session.scalar(
                    select(func.count())
                    .select_from(Journey)
                    .where(Journey.flow == flow, Journey.last_seen_at >= seen)
                )
                or 0
            )
    return [(f, s, n, totals.get(f, n)) for (f, s), n in sorted(counts.items())]


def _stall_after(flow: str) -> timedelta:
    """How long the flow's journeys wait before they count as stalled (the correlation rules,
    SENTRAIL_STALL_AFTER applied)."""
    return timedelta(seconds=current_rules().flow(flow).stall_after)


def _failed_by_service(session: Session, rule: Rule, since: datetime) -> Counter[tuple[str, str]]:
    """Failed orders per (flow, failing service), counted by the database."""
    query = (
        select(Journey.flow, Journey.failed_service, func.count())
        .where(Journey.status == FAILED, Journey.last_seen_at >= since)
        .group_by(Journey.flow, Journey.failed_service)
    )
    if rule.flow:
        query = query.where(Journey.flow == rule.flow)
    counts: Counter[tuple[str, str]] = Counter()
    for flow, service, count in session.execute(query):
        if rule.service in (None, service or "unknown"):
            counts[(flow, service or "unknown")] += int(count)
    return counts


def _stalled_by_service(session: Session, rule: Rule, since: datetime) -> Counter[tuple[str, str]]:
    """Orders stalled since `since` per (flow, missing service): the missing hops are a JSON
    list, read row by row (at most MAX_ORDERS; stalls are the rare status)."""
    flows = [rule.flow] if rule.flow else [f.name for f in current_rules().flows]
    earliest = since - max((_stall_after(flow) for flow in flows), default=timedelta(0))
    query = select(Journey.flow, Journey.missing_hops, Journey.last_seen_at).where(
        Journey.status == STALLED, Journey.last_seen_at >= earliest
    )
    if rule.flow:
        query = query.where(Journey.flow == rule.flow)
    counts: Counter[tuple[str, str]] = Counter()
    for flow, missing, last_seen in session.execute(query.limit(MAX_ORDERS)):
        if last_seen < since - _stall_after(flow):
            continue  # stalled before the window
        for service in missing or ["unknown"]:
            if rule.service in (None, service):
                counts[(flow, service)] += 1
    return counts


def _order_findings(session: Session, rule: Rule, now: datetime, status: str) -> list[Finding]:
    verb = "stalled waiting for" if status == STALLED else "failed in"
    found = []
    for flow, service, count, total in _orders(session, rule, now, status):
        value = float(count) if rule.measure == "count" else count / total
        if rule.measure == "share" and total < (rule.min_orders or SHARE_MIN_ORDERS):
            continue
        if value < rule.threshold:
            continue
        share = f" ({count / total:.0%} of {total})" if rule.measure == "share" else ""
        params = {"status": status, "flow": flow}
        if service != "unknown":
            params["service"] = service
        found.append(
            Finding(
                group=group_key(flow=flow, service=service),
                value=value,
                summary=f"{count} {flow} orders {verb} {service}{share} in the last "
                f"{_span(rule.window)}",
                path="/orders?" + urlencode(params),
                details={"flow": flow, "service": service, "orders": count, "seen": total},
            )
        )
    return found


def orders_stalled(session: Session, rule: Rule, now: datetime) -> list[Finding]:
    return _order_findings(session, rule, now, STALLED)


def orders_failed(session: Session, rule: Rule, now: datetime) -> list[Finding]:
    return _order_findings(session, rule, now, FAILED)


def _recent_releases(session: Session, since: datetime) -> list[str]:
    """Releases with orders or sessions within the window, newest activity first."""
    orders = session.execute(
        select(JourneyLabel.value, func.max(JourneyLabel.last_seen_at))
        .where(JourneyLabel.kind == "release", JourneyLabel.last_seen_at >= since)
        .group_by(JourneyLabel.value)
    ).all()
    sessions = session.execute(
        select(SessionCount.release, func.max(SessionCount.started_at))
        .where(SessionCount.started_at >= since)
        .group_by(SessionCount.release)
    ).all()
    latest: dict[str, datetime] = {}
    for version, at in [*orders, *sessions]:
        if version and (version not in latest or at > latest[version]):
            latest[version] = at
    return sorted(latest, key=lambda v: latest[v], reverse=True)[:MAX_RELEASES]


def _unset(value: float | None, default: float) -> float:
    return default if value is None else value


def release_regression(session: Session, rule: Rule, now: datetime) -> list[Finding]:
    """The gate's verdict on each release active in the window; what the rule leaves unset is
    the gate's default, so `sentrail release gate VERSION` without options agrees."""
    gate = GateLimits()
    limits = GateLimits(
        min_orders=gate.min_orders if rule.min_orders is None else rule.min_orders,
        max_success_drop=_unset(rule.max_success_drop, gate.max_success_drop),
        max_crash_free_drop=_unset(rule.max_crash_free_drop, gate.max_crash_free_drop),
    )
    found = []
    for version in _recent_releases(session, now - timedelta(seconds=rule.window)):
        verdict = release_gate(session, version, limits)
        if verdict is None or verdict["verdict"] != "fail":
            continue
        drops = [c["baseline"] - c["value"] for c in verdict["checks"] if c["passed"] is False] or [
            0.0
        ]
        found.append(
            Finding(
                group=group_key(release=version),
                value=round(max(drops), 6),
                summary=f"release {version} is less healthy than {verdict['baseline']}: "
                + "; ".join(verdict["reasons"]),
                path=f"/releases/{quote(version, safe='')}",
                details={"release": version, "baseline": verdict["baseline"], **verdict},
            )
        )
    return found


def new_issue(session: Session, rule: Rule, now: datetime) -> list[Finding]:
    """Issues first seen within the window, per release they were first seen in."""
    since = now - timedelta(seconds=rule.window)
    rows = session.execute(
        select(Issue.id, Issue.title, Issue.first_release)
        .where(Issue.first_seen_at >= since, Issue.status != "resolved")
        .order_by(Issue.id)
        .limit(MAX_ORDERS)
    ).all()
    per_release: dict[str, list[tuple[int, str]]] = {}
    for issue_id, title, release in rows:
        per_release.setdefault(release or "(no release)", []).append((issue_id, title))
    found = []
    for release, issues in sorted(per_release.items()):
        if len(issues) < rule.threshold:
            continue
        titles = ", ".join(repr(title[:60]) for _, title in issues[:3])
        found.append(
            Finding(
                group=group_key(release=release),
                value=float(len(issues)),
                summary=f"{len(issues)} new issue(s) in release {release}: {titles}",
                path=f"/issues/{issues[0][0]}"
                if len(issues) == 1
                else f"/releases/{quote(release, safe='')}",
                details={"release": release, "issues": [i for i, _ in issues[:50]]},
            )
        )
    return found


def _errors_by_service(session: Session, since: datetime, until: datetime) -> Counter[str]:
    rows = session.execute(
        select(Event.service, func.count())
        .where(
            Event.timestamp >= since,
            Event.timestamp < until,
            Event.type != "transaction",
            Event.level.in_(("error", "fatal")),
        )
        .group_by(Event.service)
    )
    return Counter({service or "unknown": int(n) for service, n in rows})


def error_spike(session: Session, rule: Rule, now: datetime) -> list[Finding]:
    """Per service: errors in the window at least `threshold` and `factor` times the mean of
    the `baseline_windows` windows before it."""
    window = timedelta(seconds=rule.window)
    current = _errors_by_service(session, now - window, now + timedelta(seconds=1))
    before = _errors_by_service(session, now - window * (1 + rule.baseline_windows), now - window)
    found = []
    for service, count in sorted(current.items()):
        baseline = before.get(service, 0) / rule.baseline_windows
        if rule.service not in (None, service):
            continue
        if count < rule.threshold or count < rule.factor * baseline:
            continue
        found.append(
            Finding(
                group=group_key(service=service),
                value=float(count),
                summary=f"{service}: {count} errors in the last {_span(rule.window)}, "
                f"{baseline:.1f} per window before",
                path="/services",
                details={"service": service, "errors": count, "baseline": baseline},
            )
        )
    return found


def missed_checkin(session: Session, rule: Rule, _now: datetime) -> list[Finding]:
    """Monitors whose last run was missed or timed out (correlator/monitors.py)."""
    rows = session.execute(
        select(Monitor.slug, Monitor.project_id, Monitor.status, Monitor.next_expected_at)
        .where(Monitor.status.in_(("missed", "timeout")))
        .order_by(Monitor.id)
        .limit(1000)
    ).all()
    return [
        Finding(
            group=group_key(monitor=slug, project=project_id),
            value=1.0,
            summary=f"cron monitor {slug}: its last run was {status}",
            path=f"/monitors/{quote(slug, safe='')}?project={project_id}",
            details={"monitor": slug, "project_id": project_id, "status": status},
        )
        for slug, project_id, status, _ in rows
        if rule.service in (None, slug)
    ]


def _span(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


CONDITIONS: dict[str, Evaluate] = {
    "orders_stalled": orders_stalled,
    "orders_failed": orders_failed,
    "release_regression": release_regression,
    "new_issue": new_issue,
    "error_spike": error_spike,
    "missed_checkin": missed_checkin,
}
