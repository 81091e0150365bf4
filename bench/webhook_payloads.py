"""Webhook deliveries as sentry.io sends them to an integration, signed as it signs
(docs/protocol.md#webhooks-from-sentryio).

sentry.io itself cannot run here, so these stand in for it: compact JSON, non-ASCII escaped,
HMAC-SHA256 of the body with the integration's client secret. The webhook benchmark sends them
and the collector's tests check them, so they live with the benchmarks (tests may import bench).
"""

import hashlib
import hmac
import json
import uuid
from typing import Any

ORDER = "9b2f3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()


def signed(
    payload: dict[str, Any], resource: str, secret: str, request_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    body = body_of(payload)
    return body, {
        "Content-Type": "application/json",
        "Request-ID": request_id or uuid.uuid4().hex,
        "Sentry-Hook-Resource": resource,
        "Sentry-Hook-Timestamp": "1764237600",
        "Sentry-Hook-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
    }


def envelope(action: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "action": action,
        "installation": {"uuid": "7a485448-a9e2-4c85-8a3c-4f44175783c9"},
        "data": data,
        "actor": {"type": "user", "id": 1, "name": "Ana Müller"},
    }


def issue(issue_id: str = "1170820242", status: str = "unresolved", **extra: Any) -> dict[str, Any]:
    return {
        "id": issue_id,
        "shortId": "PAYMENT-1",
        "title": "ValueError: validation failed",
        "culprit": "payment.handlers in validate",
        "level": "error",
        "logger": None,
        "platform": "python",
        "type": "error",
        "status": status,
        "substatus": "new",
        "statusDetails": {},
        "count": "12",
        "userCount": 3,
        "firstSeen": "2026-11-26T09:00:00.000000Z",
        "lastSeen": "2026-11-26T10:00:00.000000Z",
        "project": {"id": "4505", "name": "payment", "slug": "payment", "platform": "python"},
        "metadata": {"type": "ValueError", "value": "validation failed"},
        "assignedTo": None,
        "numComments": 0,
        "permalink": None,
        "url": f"https://sentry.io/api/0/organizations/acme/issues/{issue_id}/",
        "web_url": f"https://sentry.io/organizations/acme/issues/{issue_id}/",
        "project_url": "https://sentry.io/organizations/acme/projects/payment/",
        **extra,
    }


def event(
    datetime_value: str = "2026-11-26T10:00:00.123456Z", issue_id: str = "1170820242"
) -> dict[str, Any]:
    event_id = uuid.uuid4().hex
    return {
        "event_id": event_id,
        "project": 4505,
        "release": "abc123",
        "dist": None,
        "platform": "python",
        "message": "",
        "datetime": datetime_value,
        "tags": [
            ["environment", "production"],
            ["level", "error"],
            ["order_id", ORDER],
            ["server_name", "payment"],
            ["sentry:release", "abc123"],
        ],
        "contexts": {"trace": {"trace_id": "c" * 32, "span_id": "d" * 16, "op": "queue"}},
        "culprit": "payment.handlers in validate",
        "environment": "production",
        "exception": {
            "values": [
                {
                    "type": "ValueError",
                    "value": f"validation failed for order [{ORDER}] : expired",
                    "stacktrace": {
                        "frames": [
                            {
                                "module": "payment.handlers",
                                "function": "validate",
                                "in_app": True,
                                "context_line": "raise ValueError(m)",
                            }
                        ]
                    },
                    "mechanism": {"type": "generic", "handled": True},
                }
            ]
        },
        "breadcrumbs": {
            "values": [
                {"category": "CreditCardValidated", "data": {"OrderID": ORDER, "Success": False}}
            ]
        },
        "level": "error",
        "logger": "",
        "server_name": "payment",
        "metadata": {"type": "ValueError"},
        "received": 1764237600.5,
        "type": "error",
        "title": "ValueError: validation failed",
        "location": "payment/handlers.py",
        "url": f"https://sentry.io/api/0/projects/acme/payment/events/{event_id}/",
        "web_url": f"https://sentry.io/organizations/acme/issues/{issue_id}/events/{event_id}/",
        "issue_url": f"https://sentry.io/api/0/issues/{issue_id}/",
        "issue_id": issue_id,
    }


def comment(**extra: Any) -> dict[str, Any]:
    return {
        "comment_id": "55",
        "issue_id": "1170820242",
        "project_slug": "payment",
        "timestamp": "2026-11-26T10:02:00Z",
        "comment": "Looking — café",
        **extra,
    }


def every_resource() -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "installation",
            envelope(
                "created",
                {
                    "installation": {
                        "uuid": "7a485448",
                        "status": "installed",
                        "organization": {"slug": "acme"},
                        "app": {"uuid": "a1", "slug": "sentrail"},
                        "code": "x",
                    }
                },
            ),
        ),
        ("issue", envelope("created", {"issue": issue()})),
        ("issue", envelope("resolved", {"issue": issue(status="resolved")})),
        (
            "issue",
            envelope(
                "assigned",
                {
                    "issue": issue(
                        assignedTo={
                            "type": "user",
                            "id": "2",
                            "name": "Björn",
                            "email": "b@acme.test",
                        }
                    )
                },
            ),
        ),
        ("issue", envelope("ignored", {"issue": issue(status="ignored")})),
        ("issue", envelope("archived", {"issue": issue(status="ignored")})),
        ("issue", envelope("unresolved", {"issue": issue()})),
        ("error", envelope("created", {"error": event()})),
        (
            "event_alert",
            envelope(
                "triggered",
                {
                    "event": event("2026-11-26T10:01:00+00:00"),
                    "triggered_rule": "Payment errors",
                    "issue_alert": {
                        "id": 1,
                        "title": "Payment errors",
                        "sentry_app_id": 2,
                        "settings": [{"name": "channel", "value": "#ops"}],
                    },
                },
            ),
        ),
        (
            "metric_alert",
            envelope(
                "critical",
                {
                    "metric_alert": {"id": "7", "identifier": "7", "status": 2},
                    "description_text": "1000 events in the last minute",
                    "description_title": "Critical: errors",
                    "web_url": "https://sentry.io/x",
                },
            ),
        ),
        (
            "comment",
            envelope("created", comment()),
        ),
        ("seer", envelope("root_cause_started", {"run_id": 1, "group_id": 1170820242})),
        ("future_resource", envelope("happened", {"anything": [1, 2, 3]})),
    ]
