"""Release health: is this release healthier than the one before it?

The database reduces (counts per release, per service, per status); pandas combines the
reductions into rates, the per-service breakdown and the delta against the previous release.
"""

import math
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reads import schemas
from reads.services import impacted_orders
from reads.sessions import distinct_users, errored_only
from store.models import EventRollup, Issue, JourneyLabel, SessionCount, SessionUser
from store.statuses import COMPLETED, FAILED, STALLED, STATUSES

ISSUE_LIMIT = 50
SESSION_COUNTERS = ("total", "crashed", "errored", "abnormal", "unhandled")
DELTA_FIELDS = (
    "events",
    "errors",
    "failed_orders",
    "stalled_orders",
    "order_success_rate",
    "crash_free_sessions",
    "crash_free_users",
)


def _rate(part: float, whole: float) -> float | None:
    return None if not whole else round(part / whole, 6)


def _clean(value: Any) -> Any:
    """numpy scalars and NaN → plain JSON values."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def _order_counts(session: Session, releases: list[str] | None = None) -> pd.DataFrame:
    """One row per release, one column per journey status."""
    query = (
        select(JourneyLabel.value.label("release"), JourneyLabel.status, func.count().label("n"))
        .where(JourneyLabel.kind == "release")
        .group_by(JourneyLabel.value, JourneyLabel.status)
    )
    if releases is not None:
        query = query.where(JourneyLabel.value.in_(releases))
    frame = pd.DataFrame(session.execute(query).all(), columns=["release", "status", "n"])
    table = frame.pivot_table(index="release", columns="status", values="n", fill_value=0)
    return table.reindex(columns=list(STATUSES), fill_value=0).astype(int)


def _session_counts(session: Session, releases: list[str] | None = None) -> pd.DataFrame:
    query = select(
        SessionCount.release,
        *(func.sum(getattr(SessionCount, c)).label(c) for c in SESSION_COUNTERS),
    ).group_by(SessionCount.release)
    if releases is not None:
        query = query.where(SessionCount.release.in_(releases))
    frame = pd.DataFrame(session.execute(query).all(), columns=["release", *SESSION_COUNTERS])
    return frame.set_index("release").astype(int)


def _crash_free(sessions: pd.DataFrame) -> pd.Series:
    total = sessions["total"].where(sessions["total"] > 0)
    return (1 - sessions["crashed"] / total).round(6)


def list_releases(session: Session) -> list[dict[str, Any]]:
    """Every release that sent events or sessions, newest first."""
    events = pd.DataFrame(
        session.execute(
            select(
                EventRollup.release,
                func.min(EventRollup.first_seen_at),
                func.max(EventRollup.last_seen_at),
                func.sum(EventRollup.events),
                func.sum(EventRollup.errors),
            )
            .where(EventRollup.release != "")
            .group_by(EventRollup.release)
        ).all(),
        columns=["release", "first_seen", "last_seen", "events", "errors"],
    ).set_index("release")
    orders = _order_counts(session)
    sessions = _session_counts(session)
    table = events.join(orders, how="outer").join(sessions, how="outer")
    table["crash_free_sessions"] = _crash_free(table.fillna({"total": 0, "crashed": 0}))
    counts = ["events", "errors", *STATUSES]
    table[counts] = table[counts].fillna(0).astype(int)
    table["orders"] = table[list(STATUSES)].sum(axis=1)
    table = table.sort_values("first_seen", ascending=False, na_position="last")
    return [
        {
            "version": version,
            "first_seen": _clean(row.first_seen),
            "last_seen": _clean(row.last_seen),
            "events": int(row.events),
            "errors": int(row.errors),
            "orders": int(row.orders),
            "failed_orders": int(row[FAILED]),
            "crash_free_sessions": _clean(row.crash_free_sessions),
        }
        for version, row in table.iterrows()
    ]


def _releases_of_environment(session: Session, environment: str | None) -> pd.DataFrame:
    """Releases (first and last seen) of one environment, oldest first."""
    query = (
        select(
            EventRollup.release,
            func.min(EventRollup.first_seen_at),
            func.max(EventRollup.last_seen_at),
        )
        .where(EventRollup.release != "")
        .group_by(EventRollup.release)
    )
    if environment:
        query = query.where(EventRollup.environment == environment)
    frame = pd.DataFrame(session.execute(query).all(), columns=["release", "first", "last"])
    return frame.sort_values(["first", "release"]).reset_index(drop=True)


def _main_environment(session: Session, version: str) -> list[str]:
    """The release's environments, the one with most events first."""
    events = func.sum(EventRollup.events)
    rows = session.execute(
        select(EventRollup.environment, events)
        .where(EventRollup.release == version, EventRollup.environment != "")
        .group_by(EventRollup.environment)
        .order_by(events.desc(), EventRollup.environment)
    ).all()
    found: list[str] = [env for env, _ in rows if env is not None]
    for (env,) in session.execute(
        select(SessionCount.environment).where(SessionCount.release == version).distinct()
    ):
        if env not in found:
            found.append(env)
    return found


def _seen(session: Session, version: str) -> bool:
    """Whether anything of the release was stored: an event (of any environment, or of none:
    an OTLP service may name no `deployment.environment`) or a journey labelled with it."""
    rolled = select(EventRollup.release).where(EventRollup.release == version).limit(1)
    labelled = select(JourneyLabel.journey_id).where(
        JourneyLabel.kind == "release", JourneyLabel.value == version
    )
    return session.scalar(rolled) is not None or session.scalar(labelled.limit(1)) is not None


def release_health(
    session: Session, version: str, environment: str | None = None
) -> dict[str, Any] | None:
    """The release's numbers, its services and the delta against the release that came before
    it in the same environment. None when nothing was ever seen of it."""
    environments = _main_environment(session, version)
    if not environments and not _seen(session, version):
        return None
    health = _numbers(session, version)
    scope = environment or (environments[0] if environments else None)
    history = _releases_of_environment(session, scope)
    previous = None
    if version in set(history["release"]):
        position = int(history.index[history["release"] == version][0])
        previous = str(history.loc[position - 1, "release"]) if position > 0 else None
    delta: dict[str, Any] = {}
    if previous is not None:
        before = _numbers(session, previous)
        for name in DELTA_FIELDS:
            now_value, then_value = health[name], before[name]
            delta[name] = (
                None
                if now_value is None or then_value is None
                else round(now_value - then_value, 6)
            )
    new_issues, new_total = _issues(session, Issue.first_release, version)
    regressed, regressed_total = _issues(session, Issue.regressed_release, version)
    return {
        "version": version,
        "environments": environments,
        **health,
        "new_issues": new_issues,
        "new_issue_count": new_total,
        "regressed_issues": regressed,
        "regressed_issue_count": regressed_total,
        "services": _services(session, version),
        "previous_release": previous,
        "delta": delta,
    }


def _issues(session: Session, column: Any, version: str) -> tuple[list[dict[str, Any]], int]:
    """The release's issues of one kind, the ISSUE_LIMIT biggest, and how many there are."""
    total = session.scalar(select(func.count()).select_from(Issue).where(column == version))
    biggest = session.scalars(
        select(Issue).where(column == version).order_by(Issue.count.desc()).limit(ISSUE_LIMIT)
    )
    return [_issue(i) for i in biggest], int(total or 0)


def _issue(issue: Issue) -> dict[str, Any]:
    return schemas.from_row(schemas.ReleaseIssue, issue).model_dump()


def _numbers(session: Session, version: str) -> dict[str, Any]:
    first, last, events, errors = session.execute(
        select(
            func.min(EventRollup.first_seen_at),
            func.max(EventRollup.last_seen_at),
            func.coalesce(func.sum(EventRollup.events), 0),
            func.coalesce(func.sum(EventRollup.errors), 0),
        ).where(EventRollup.release == version)
    ).one()
    orders = _order_counts(session, [version])
    counts = {s: int(orders.loc[version, s]) if version in orders.index else 0 for s in STATUSES}
    finished = counts[COMPLETED] + counts[FAILED] + counts[STALLED]
    sessions = _session_counts(session, [version])
    totals = {
        c: int(sessions.loc[version, c]) if version in sessions.index else 0
        for c in SESSION_COUNTERS
    }
    totals["errored"] = errored_only(totals)
    users, crashed_users = session.execute(
        select(*distinct_users()).where(SessionUser.release == version)
    ).one()
    return {
        "first_seen": first,
        "last_seen": last,
        "events": int(events),
        "errors": int(errors),
        "orders": {"total": sum(counts.values()), **counts},
        "failed_orders": counts[FAILED],
        "stalled_orders": counts[STALLED],
        "order_success_rate": _rate(counts[COMPLETED], finished),
        "sessions": totals,
        "crash_free_sessions": _clean(_crash_free(pd.DataFrame([totals])).iloc[0]),
        "crash_free_users": None if not users else round(1 - crashed_users / users, 6),
        "users": int(users),
    }


def _services(session: Session, version: str) -> list[dict[str, Any]]:
    events = pd.DataFrame(
        session.execute(
            select(EventRollup.service, func.sum(EventRollup.events), func.sum(EventRollup.errors))
            .where(EventRollup.release == version, EventRollup.service != "")
            .group_by(EventRollup.service)
        ).all(),
        columns=["service", "events", "errors"],
    ).set_index("service")
    impact = pd.DataFrame(
        [(s, st, n) for (s, st), n in impacted_orders(session, version, None, None).items()],
        columns=["service", "status", "n"],
    )
    orders = impact.pivot_table(index="service", columns="status", values="n", fill_value=0)
    orders = orders.reindex(columns=[FAILED, STALLED], fill_value=0)
    orders.columns = ["failed_orders", "stalled_orders"]
    table = events.join(orders, how="outer").fillna(0).astype(int)
    table["error_rate"] = (table["errors"] / table["events"].where(table["events"] > 0)).round(4)
    table = table.sort_values(["failed_orders", "errors"], ascending=False)
    # Records, not rows: a row of mixed columns would turn the counts into floats.
    return [
        {k: _clean(v) for k, v in record.items()}
        for record in table.rename_axis("service").reset_index().to_dict("records")
    ]
