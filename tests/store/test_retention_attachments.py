"""Retention of feedback and attachments: they go with age like events, and the bytes of a
pruned attachment go back to its project's quota."""

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from store.engine import Database
from store.models import Attachment, AttachmentUsage, Feedback
from store.retention import prune
from tests.collector.envelopes import event
from tests.collector.user_items import attachment_item, envelope_with, feedback_event, json_item
from tests.conftest import ProjectKey


def test_prune_removes_feedback_and_attachments_and_frees_the_quota(
    client: TestClient, project: ProjectKey, database: Database
) -> None:
    body = envelope_with(
        attachment_item(b"a" * 100, "a.txt"),
        attachment_item(b"b" * 50, "b.txt"),
        json_item("feedback", feedback_event()),
        event=event(),
    )
    answer = client.post(f"/api/{project.id}/envelope/", content=body, headers=project.auth)
    assert answer.status_code == 200, answer.text

    assert prune(database, timedelta(days=1)).attachments == 0  # recent: kept
    result = prune(database, timedelta(0), batch=1)  # everything received before now
    assert (result.attachments, result.feedback) == (2, 1)
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Attachment)) == 0
        assert session.scalar(select(func.count()).select_from(Feedback)) == 0
        assert session.scalar(select(AttachmentUsage.bytes)) == 0
