"""sentry.io webhooks (docs/protocol.md#webhooks-from-sentryio): verify, record once, answer fast.

`POST /webhooks/sentry` takes integration-platform deliveries, signed with the integration's
client secret; `POST /webhooks/sentry/legacy?token=…` takes the legacy WebHooks plugin, which
signs nothing. Nothing here makes a network call: the delivery is stored by the group-commit
writer and answered; enrichment (if configured) runs later, in the background.
"""

import hashlib
import hmac
import re
import threading
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from collector.batch import Delivery, IngestBatch, SentryComment, SentryIssue
from collector.endpoints import Ingest, read_body
from collector.enrichment import Enricher
from collector.normalize import normalize_event_id
from collector.parsers import parse_json_document
from collector.timestamps import parse_timestamp
from store.engine import Database
from store.errors import Unauthorized
from store.models import Project
from store.payload import compress
from store.projects import create_project
from web.errors import FastJSONResponse

REQUEST_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")
EVENT_RESOURCES = {"error": "error", "event_alert": "event"}  # resource -> key under data
UNASSIGNED_PROJECT = "sentry.io"
WEBHOOK_EVENT_IDS = uuid.UUID("5e1f7a2c-9b0d-4c3e-8f61-2a7d4b9c0e15")  # uuid5 namespace


def sentry_issue_hash(sentry_id: str) -> str:
    """Issues Sentry grouped are keyed by its id, in the same column as our grouping hash."""
    return hashlib.md5(f"sentry-issue:{sentry_id}".encode(), usedforsecurity=False).hexdigest()


def verify_signature(body: bytes, signature: str | None, secrets: list[bytes]) -> None:
    """HMAC-SHA256 of the raw body, hex, compared in constant time against every secret."""
    if not secrets:
        raise Unauthorized("webhook signing secret is not configured")
    if not signature:
        raise Unauthorized("missing Sentry-Hook-Signature")
    given = signature.strip().lower().encode()
    valid = [
        hmac.compare_digest(hmac.new(secret, body, hashlib.sha256).hexdigest().encode(), given)
        for secret in secrets  # every secret is tried, so timing does not tell which matched
    ]
    if not any(valid):
        raise Unauthorized("invalid Sentry-Hook-Signature")


class SentryProjects:
    """Sentry project id -> our project, created on first sight (`sentry-<id>`)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()

    async def resolve_async(self, name: str) -> int:
        known = self._ids.get(name)  # the common case: no hop to a worker thread
        return known if known is not None else await run_in_threadpool(self.resolve, name)

    def resolve(self, name: str) -> int:
        """Runs in a worker thread: may read and write the database."""
        known = self._ids.get(name)
        if known is not None:
            return known
        with self._lock:
            try:
                with self._database.write_sessions.begin() as session:
                    project = session.scalar(select(Project).where(Project.name == name))
                    project = project or create_project(session=session, name=name)
                    project_id = project.id
            except IntegrityError:  # another collector created it first
                with self._database.sessions() as session:
                    project_id = session.scalars(
                        select(Project.id).where(Project.name == name)
                    ).one()
            self._ids[name] = project_id
            return project_id


def _text(value: object, limit: int = 200) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)[:limit] or None


def _time(value: object, default: datetime) -> datetime:
    return parse_timestamp(value) or default


def _project_name(value: object) -> str:
    if isinstance(value, dict):
        value = value.get("id") or value.get("slug")
    text = _text(value, 80)
    return f"sentry-{text}" if text else UNASSIGNED_PROJECT


def _issue(data: Mapping[str, Any], action: str, now: datetime) -> SentryIssue | None:
    issue = data.get("issue")
    if not isinstance(issue, dict) or not _text(issue.get("id"), 32):
        return None
    sentry_id = str(issue["id"])[:32]
    metadata: dict[str, Any] = issue["metadata"] if isinstance(issue.get("metadata"), dict) else {}
    status = _text(issue.get("status"), 16) or "unresolved"
    if action == "resolved":
        status = "resolved"
    elif action in ("ignored", "archived"):
        status = "ignored"
    elif action == "unresolved":
        status = "unresolved"
    assigned = issue.get("assignedTo")
    assignee = (
        _text(assigned.get("name") or assigned.get("email") or assigned.get("id"))
        if isinstance(assigned, dict)
        else _text(assigned)
    )
    count = str(issue.get("count", "0"))
    return SentryIssue(
        hash=sentry_issue_hash(sentry_id),
        sentry_id=sentry_id,
        title=_text(issue.get("title"), 10_000) or "<untitled issue>",
        culprit=_text(issue.get("culprit"), 10_000) or "",
        type="error" if metadata.get("type") else "default",
        level=_text(issue.get("level"), 16) or "error",
        status=status,
        substatus=_text(issue.get("substatus"), 16) or ("new" if action == "created" else ""),
        count=int(count) if count.isascii() and count.isdigit() else 0,
        first_seen_at=_time(issue.get("firstSeen"), now),
        last_seen_at=_time(issue.get("lastSeen"), now),
        external_url=_text(issue.get("web_url") or issue.get("permalink"), 2000),
        assigned_to=assignee,
        resolved_at=now if status == "resolved" else None,
    )


def _comment(
    data: Mapping[str, Any], action: str, now: datetime, actor: object
) -> SentryComment | None:
    comment_id, issue_id = _text(data.get("comment_id"), 32), _text(data.get("issue_id"), 32)
    if comment_id is None or issue_id is None:
        return None
    author = _text(actor.get("name") or actor.get("id")) if isinstance(actor, dict) else None
    return SentryComment(
        comment_id=comment_id,
        sentry_issue_id=issue_id,
        project_slug=_text(data.get("project_slug"), 100),
        author=author,
        text=_text(data.get("comment"), 100_000) or "",
        at=_time(data.get("timestamp"), now),
        deleted=action == "deleted",
    )


class WebhookReader:
    """A verified delivery -> the batch the writer stores."""

    def __init__(self, ingest: Ingest, projects: SentryProjects) -> None:
        self.ingest = ingest
        self.projects = projects
        self.enricher: Enricher | None = None
        settings = ingest.settings
        if settings.sentry_api_token:
            self.enricher = Enricher(
                api_url=settings.sentry_api_url,
                token=settings.sentry_api_token,
                store=self.store_fetched_event,
                backoff=settings.enrichment_backoff,
            )

    async def store_fetched_event(self, event: dict[str, Any], project: str) -> None:
        batch = IngestBatch(await self.projects.resolve_async(project))
        self.event(batch, event, datetime.now(UTC))
        await self.ingest.writer.submit(batch)

    def event(
        self, batch: IngestBatch, event: dict[str, Any], now: datetime, *, scrubbed: bool = False
    ) -> None:
        if "timestamp" not in event and "datetime" in event:
            event = {**event, "timestamp": event["datetime"]}  # "…+00:00" or "…Z"
        given_id = event.get("event_id")
        if given_id is not None and normalize_event_id(given_id) is None:
            # sentry.io never retries a delivery answered 4xx: an event whose id is not one
            # sentrail reads is stored under an id derived from it (the same on a redelivery).
            event = {**event, "event_id": uuid.uuid5(WEBHOOK_EVENT_IDS, str(given_id)).hex}
        kind = "transaction" if event.get("type") == "transaction" else "event"
        normalized = self.ingest.reader.normalize(
            event,
            orjson.dumps(event),
            kind=kind,
            received_at=now,
            fallback_event_id=None,
            scrubbed=scrubbed,
        )
        normalized.row.update(
            {"source": "webhook", "external_url": _text(event.get("web_url"), 2000)}
        )
        # Sentry's own title, as its issue stream shows it, rather than one computed again.
        title = _text(event.get("title"), 200)
        if title:
            normalized.row["title"] = title
            if normalized.group is not None:
                normalized = replace(normalized, group=replace(normalized.group, title=title))
        sentry_issue = _text(event.get("issue_id"), 32)
        if normalized.group is not None and sentry_issue:
            normalized = replace(
                normalized,
                group=replace(
                    normalized.group, hash=sentry_issue_hash(sentry_issue), sentry_id=sentry_issue
                ),
            )
        batch.events.append(normalized)

    async def read(
        self,
        body: bytes,
        payload: dict[str, Any],
        resource: str,
        action: str,
        request_id: str,
        installation: str | None,
    ) -> IngestBatch:
        now = datetime.now(UTC)
        # Scrubbed once, here: the delivery is kept raw less what scrubbing removes, and the
        # event it carries is normalised from the same scrubbed copy; the delivery's own
        # columns come from headers and the unscrubbed body, so they are scrubbed too.
        reader = self.ingest.reader
        payload, raw = reader.scrubbed(payload, body)
        resource, action = reader.text(resource), reader.text(action)
        installation = reader.text(installation) if installation is not None else None
        if reader.text(request_id) != request_id:
            request_id = "sha256-" + hashlib.sha256(body).hexdigest()[:48]
        data: dict[str, Any] = payload["data"] if isinstance(payload.get("data"), dict) else {}
        event = data.get(EVENT_RESOURCES.get(resource, ""))
        issue = _issue(data, action, now) if resource == "issue" else None
        actor = payload.get("actor")
        comment = _comment(data, action, now, actor) if resource == "comment" else None
        if isinstance(event, dict):
            project = _project_name(event.get("project"))
        elif issue is not None:
            project = _project_name(data["issue"].get("project"))
        else:
            project = UNASSIGNED_PROJECT
        batch = IngestBatch(await self.projects.resolve_async(project))
        if isinstance(event, dict):
            self.event(batch, event, now, scrubbed=True)
            outcome = "event"
        elif issue is not None:
            batch.issues.append(issue)
            outcome = "issue"
        elif comment is not None:
            batch.comments.append(comment)
            outcome = "comment"
        else:
            outcome = "recorded"  # metric alerts, installations, seer, future resources
        batch.delivery = Delivery(
            request_id, resource[:64], action[:64], now, outcome, installation, compress(raw)
        )
        return batch


def _reader(request: Request) -> WebhookReader:
    reader: WebhookReader = request.state.webhooks
    return reader


async def sentry_webhook(request: Request) -> FastJSONResponse:
    """`POST /webhooks/sentry`: integration-platform deliveries."""
    reader = _reader(request)
    settings = reader.ingest.settings
    body = await read_body(request, settings.max_webhook_bytes)
    verify_signature(body, request.headers.get("sentry-hook-signature"), settings.client_secrets)
    payload, raw = parse_json_document(body, "webhook body")
    resource = request.headers.get("sentry-hook-resource") or "unknown"
    action = _text(payload.get("action"), 64) or "unknown"
    request_id = request.headers.get("request-id", "")
    if not REQUEST_ID.match(request_id):
        request_id = "sha256-" + hashlib.sha256(body).hexdigest()[:48]
    installation = payload.get("installation")
    uuid = _text(installation.get("uuid"), 64) if isinstance(installation, dict) else None
    batch = await reader.read(raw, payload, resource, action, request_id, uuid)
    await reader.ingest.writer.submit(batch)
    if reader.enricher is not None and resource == "issue" and action == "created":
        for issue in batch.issues:
            project = _project_name(payload["data"]["issue"].get("project"))
            reader.enricher.schedule(issue.sentry_id, reader.ingest.reader.text(project))
    return FastJSONResponse({})


async def legacy_webhook(request: Request) -> FastJSONResponse:
    """`POST /webhooks/sentry/legacy?token=…`: the legacy WebHooks plugin (unsigned)."""
    reader = _reader(request)
    settings = reader.ingest.settings
    expected = settings.legacy_webhook_token
    given = request.query_params.get("token", "")
    if expected is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("invalid or missing token")
    body = await read_body(request, settings.max_webhook_bytes)
    payload, raw = parse_json_document(body, "webhook body")
    event = payload.get("event")
    if isinstance(event, dict):
        # The plugin names the group at the top level; the event dict may not.
        event = {**event, "issue_id": event.get("issue_id") or payload.get("id")}
        payload = {"action": "created", "data": {"error": event}}
    request_id = "legacy-" + hashlib.sha256(body).hexdigest()[:48]
    batch = await reader.read(
        raw, payload, "error" if isinstance(event, dict) else "legacy", "created", request_id, None
    )
    await reader.ingest.writer.submit(batch)
    return FastJSONResponse({})
