"""Reading issues: the list with its filters, and one issue with its latest events."""

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reads import schemas
from reads.events import event_summary
from reads.paging import page_by_id
from store.errors import NotFound
from store.models import Event, Issue, IssueComment


def issue_summary(issue: Issue) -> schemas.IssueSummary:
    return schemas.from_row(schemas.IssueSummary, issue)


def list_issues(
    *,
    session: Session,
    release: str | None,
    service: str | None,
    status: str | None,
    limit: int,
    cursor: int | None,
) -> schemas.IssueList:
    query = select(Issue)
    if status:
        query = query.where(Issue.status == status)
    if release or service:
        events = select(Event.issue_id).where(Event.issue_id == Issue.id)
        if release:
            events = events.where(Event.release == release)
        if service:
            events = events.where(Event.service == service)
        query = query.where(events.exists())
    issues, next_cursor = page_by_id(session, Issue, query, limit, cursor)
    return schemas.IssueList(issues=[issue_summary(i) for i in issues], next_cursor=next_cursor)


def get_issue(*, session: Session, issue_id: int) -> schemas.IssueDetail:
    # Ids are 64-bit: a larger number from a URL would overflow the database's integer.
    issue = session.get(Issue, issue_id) if 1 <= issue_id <= 2**62 else None
    if issue is None:
        raise NotFound(f"no issue {issue_id}")

    def distinct_of(column: Any) -> list[str]:
        query = select(column).where(Event.issue_id == issue_id, column.is_not(None)).distinct()
        return sorted(session.scalars(query))

    latest = session.scalars(
        select(Event).where(Event.issue_id == issue_id).order_by(Event.timestamp.desc()).limit(20)
    )
    comments: Iterable[IssueComment] = (
        session.scalars(
            select(IssueComment)
            .where(
                IssueComment.sentry_issue_id == issue.sentry_id, IssueComment.deleted_at.is_(None)
            )
            .order_by(IssueComment.created_at)
        )
        if issue.sentry_id
        else []
    )
    return schemas.from_row(
        schemas.IssueDetail,
        issue,
        comments=[schemas.Comment.model_validate(c) for c in comments],
        services=distinct_of(Event.service),
        releases=distinct_of(Event.release),
        latest_events=[event_summary(e) for e in latest],
    )
