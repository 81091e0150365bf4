"""Optional enrichment: fetch the latest event of a new Sentry issue from Sentry's API.

`issue.created` webhooks carry no event; with SENTRAIL_SENTRY_API_TOKEN set, the issue's latest
event is fetched in the background (never inside the webhook request), with exponential
backoff on 429, 5xx and network errors, and stored like an `error.created` event.
"""

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import httpx

from collector.parsers import parse_json_object
from store.errors import SentrailError

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
# Sentry's issue ids are decimal numbers; the id comes from a webhook body and goes into the
# API path, so anything else (`../`, `?`, `#`, non-ASCII digits) is refused before any request.
MAX_ISSUE_ID_LENGTH = 20


def issue_path(sentry_issue_id: str) -> str | None:
    """`/api/0/issues/{id}/events/latest/`, or None when the id is not an issue id."""
    if not (
        0 < len(sentry_issue_id) <= MAX_ISSUE_ID_LENGTH
        and sentry_issue_id.isascii()
        and sentry_issue_id.isdigit()
    ):
        return None
    return f"/api/0/issues/{sentry_issue_id}/events/latest/"


def event_from_api(api_event: dict[str, Any]) -> dict[str, Any]:
    """Sentry's API event shape (`entries`, `tags` as {key, value}) -> the webhook shape."""
    event: dict[str, Any] = {
        "event_id": api_event.get("eventID") or api_event.get("id"),
        "datetime": api_event.get("dateCreated") or api_event.get("dateReceived"),
        "platform": api_event.get("platform"),
        "message": api_event.get("message") or "",
        "title": api_event.get("title"),
        "culprit": api_event.get("culprit"),
        "contexts": api_event.get("contexts") or {},
        "extra": api_event.get("context") or {},
        "user": api_event.get("user"),
        "sdk": api_event.get("sdk"),
        "issue_id": str(api_event.get("groupID") or ""),
        "type": api_event.get("type") or "error",
    }
    tags = api_event.get("tags") or []
    event["tags"] = [[t.get("key"), t.get("value")] for t in tags if isinstance(t, dict)]
    for key, value in event["tags"]:
        if key in ("environment", "release", "level", "server_name", "transaction"):
            event.setdefault(key, value)
    release = api_event.get("release")
    if isinstance(release, dict) and release.get("version"):
        event["release"] = release["version"]
    for entry in api_event.get("entries") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("data"), dict | list):
            continue
        kind, data = entry.get("type"), entry["data"]
        if kind in ("exception", "breadcrumbs", "request", "stacktrace"):
            event[kind] = data
        elif kind == "message" and isinstance(data, dict):
            event["logentry"] = {"formatted": data.get("formatted"), "message": data.get("message")}
    return event


class Enricher:
    def __init__(
        self,
        *,
        api_url: str,
        token: str,
        store: Callable[[dict[str, Any], str], Coroutine[Any, Any, None]],
        backoff: float = 1.0,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=api_url.rstrip("/"),
            timeout=10,
            headers={"Authorization": f"Bearer {token}"},
        )
        self._store = store
        self._backoff = backoff
        self._tasks: set[asyncio.Task[None]] = set()

    def schedule(self, sentry_issue_id: str, project_name: str) -> None:
        path = issue_path(sentry_issue_id)
        if path is None:
            log.warning("enrichment skipped: %r is not a Sentry issue id", sentry_issue_id[:40])
            return
        task = asyncio.create_task(self._enrich(path, sentry_issue_id, project_name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _enrich(self, path: str, sentry_issue_id: str, project_name: str) -> None:
        for attempt in range(MAX_ATTEMPTS):
            try:
                response = await self._client.get(path)
            except httpx.HTTPError as exc:
                log.info("enrichment of issue %s: %s", sentry_issue_id, exc)
            else:
                if response.status_code == 200:
                    # Read like any document from outside: depth bounded (collector.limits).
                    try:
                        api_event = parse_json_object(response.content, "Sentry API event")
                    except SentrailError as exc:
                        log.warning("enrichment of issue %s: %s", sentry_issue_id, exc.detail)
                        return
                    await self._store(event_from_api(api_event), project_name)
                    return
                if response.status_code != 429 and response.status_code < 500:
                    log.warning(
                        "enrichment of issue %s refused: HTTP %s",
                        sentry_issue_id,
                        response.status_code,
                    )
                    return
            await asyncio.sleep(self._backoff * 2**attempt)
        log.warning(
            "enrichment of issue %s gave up after %d attempts", sentry_issue_id, MAX_ATTEMPTS
        )

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()
