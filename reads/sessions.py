"""Reading release-health counters as stored, per release and environment."""

from collections.abc import Mapping

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from reads import schemas
from store.models import SessionCount, SessionUser

SESSION_COUNTERS = ("total", "exited", "errored", "abnormal", "crashed", "unhandled")


def errored_only(counts: Mapping[str, int]) -> int:
    """Stored, `errored` counts every session that saw an error (collector/sessions.py);
    shown, as in Sentry's release health, it is those that did not also crash, end abnormally
    or end unhandled."""
    return max(0, counts["errored"] - counts["crashed"] - counts["abnormal"] - counts["unhandled"])


def distinct_users() -> tuple[ColumnElement[int], ColumnElement[int]]:
    """Users and crashed users: distinct ids across projects, since a user's sessions reach
    every project of the services they used (one project per service) and are still one user;
    a user whose session crashed in any of them is a crashed user."""
    distinct_ids = SessionUser.distinct_id.distinct()
    return (
        func.count(distinct_ids).label("users"),
        func.count(distinct_ids).filter(SessionUser.crashed.is_(True)).label("crashed_users"),
    )


def session_totals(
    *, session: Session, release: str | None, environment: str | None
) -> schemas.SessionList:
    counters = SESSION_COUNTERS
    query = select(
        SessionCount.release,
        SessionCount.environment,
        *(func.sum(getattr(SessionCount, c)).label(c) for c in counters),
    ).group_by(SessionCount.release, SessionCount.environment)
    users = select(SessionUser.release, SessionUser.environment, *distinct_users()).group_by(
        SessionUser.release, SessionUser.environment
    )
    if release:
        query = query.where(SessionCount.release == release)
        users = users.where(SessionUser.release == release)
    if environment:
        query = query.where(SessionCount.environment == environment)
        users = users.where(SessionUser.environment == environment)
    user_counts = {(r.release, r.environment): r for r in session.execute(users)}
    result = []
    for row in session.execute(query.order_by(SessionCount.release, SessionCount.environment)):
        u = user_counts.get((row.release, row.environment))
        counts = {c: int(getattr(row, c) or 0) for c in counters}
        result.append(
            schemas.SessionTotals(
                release=row.release,
                environment=row.environment,
                **{**counts, "errored": errored_only(counts)},
                users=u.users if u else 0,
                crashed_users=u.crashed_users if u else 0,
            )
        )
    return schemas.SessionList(sessions=result)
