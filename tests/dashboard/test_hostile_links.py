"""Links from stored URLs (a security review's finding): a webhook's `javascript:` web_url
must never reach an href; http(s) links still do."""

import pytest
from fastapi.testclient import TestClient

from bench import webhook_payloads as sp
from collector.settings import CollectorSettings
from correlator.worker import Correlator
from dashboard.links import http_link
from store.engine import Database

SECRET = "a-client-secret"
EVIL = "javascript:alert(document.cookie)"


@pytest.fixture
def collector_settings() -> CollectorSettings:
    return CollectorSettings(sentry_client_secret=SECRET)


def deliver(client: TestClient, resource: str, payload: dict[str, object]) -> None:
    body, headers = sp.signed(payload, resource, SECRET)
    assert client.post("/webhooks/sentry", content=body, headers=headers).status_code == 200


def test_a_javascript_web_url_renders_no_link(client: TestClient, database: Database) -> None:
    deliver(client, "issue", sp.envelope("created", {"issue": sp.issue("66", web_url=EVIL)}))
    error = {**sp.event(issue_id="66"), "web_url": "  JavaScript:alert(1)"}
    deliver(client, "error", sp.envelope("created", {"error": error}))
    good = sp.event(issue_id="77")
    deliver(client, "error", sp.envelope("created", {"error": good}))
    Correlator(database).run_until_idle()

    stored = client.get(f"/api/v1/events/{error['event_id']}").json()
    issue_page = client.get(f"/issues/{stored['issue_id']}")
    order_page = client.get(f"/orders/{sp.ORDER}")
    for page in (issue_page, order_page):
        assert page.status_code == 200
        assert "javascript:" not in page.text.lower()
    # The event with an https web_url keeps its link to Sentry.
    assert f'href="{good["web_url"]}"' in order_page.text


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "//evil.example/",
        "/relative",
        "http:/evil.example",
        "https://",
        "https://sentry.io/x\nSet-Cookie: a",
        "",
        None,
        42,
    ],
)
def test_only_http_urls_become_links(url: object) -> None:
    assert http_link(url) is None


def test_http_and_https_urls_are_kept() -> None:
    for url in ("https://sentry.io/organizations/acme/issues/1/", "HTTP://host:9000/a?b=c#d"):
        assert http_link(url) == url
