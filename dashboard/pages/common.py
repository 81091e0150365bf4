"""What every page shares: the templates, rendering, the login check, parameter parsing."""

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from dashboard.auth import allowed
from dashboard.downloads import attachment_url
from dashboard.links import http_link
from store.errors import BadRequest
from web.params import as_utc

TEMPLATES = Path(__file__).parent.parent / "templates"
# Autoescaped (Jinja2Templates turns it on for .html): event text is data, never markup.
templates = Jinja2Templates(directory=TEMPLATES)
# Every stored URL that becomes a link goes through it: `{% if x | http_link %}`.
templates.env.filters["http_link"] = http_link
# An attachment's download link (the API's route, octet-stream, never rendered).
templates.env.globals["attachment_url"] = attachment_url
PAGE_SIZE = 50
DETAILED_EVENTS = 100  # events shown with their stack, breadcrumbs and tags on one page


class LoginRequired(Exception):
    """Raised by `require_login`; the pages app answers it with a redirect to /login."""


def require_login(request: Request) -> None:
    """The dependency of every page router but the login page's (dashboard/pages/__init__.py
    attaches it when the routers are included, so a new page cannot forget it)."""
    if not allowed(request):
        raise LoginRequired


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("live", True)
    return templates.TemplateResponse(request, name, context, status_code=status)


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest("dates are ISO 8601, like 2026-11-27T10:00") from None
    return as_utc(parsed)


def sparkline(values: list[int], width: int = 160, height: int = 28) -> str:
    """SVG polyline points for a small trend chart."""
    top = max(values) or 1
    step = width / max(1, len(values) - 1)
    return " ".join(
        f"{i * step:.1f},{height - 2 - v / top * (height - 4):.1f}" for i, v in enumerate(values)
    )
