"""The release health report as a file: html, json, csv or md (`sentrail report release`)."""

from typing import Any, Literal

import orjson
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

Format = Literal["html", "json", "csv", "md"]
GateFormat = Literal["text", "json", "md"]
HEADLINE = (
    ("events", "Events"),
    ("errors", "Errors"),
    ("order_success_rate", "Order success rate"),
    ("failed_orders", "Failed orders"),
    ("stalled_orders", "Stalled orders"),
    ("crash_free_sessions", "Crash-free sessions"),
    ("crash_free_users", "Crash-free users"),
)
RATES = {"order_success_rate", "crash_free_sessions", "crash_free_users"}
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# Event text, tags and service names are attacker-controlled: the HTML report escapes them.
# (`select_autoescape(["html"])` alone would not match `release_report.html.j2`.)
_templates = Environment(
    loader=PackageLoader("dashboard", "templates"),
    autoescape=select_autoescape(["html", "html.j2"], default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def shown(name: str, value: Any) -> str:
    """A headline number as a person reads it."""
    if value is None:
        return "n/a"
    if name in RATES:
        return f"{value * 100:.2f}%"
    return f"{value:,}" if isinstance(value, int) else str(value)


def shown_delta(name: str, value: Any) -> str:
    if value is None:
        return "n/a"
    if name in RATES:
        return f"{value * 100:+.2f} pt"
    return f"{value:+,}" if isinstance(value, int) else f"{value:+}"


def headline(health: dict[str, Any]) -> list[dict[str, str]]:
    delta = health.get("delta") or {}
    return [
        {
            "name": label,
            "value": shown(key, health.get(key)),
            "delta": shown_delta(key, delta.get(key)) if key in delta else "",
        }
        for key, label in HEADLINE
    ]


def inert_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: one that would start a formula gets a `'`."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def services_frame(health: dict[str, Any]) -> pd.DataFrame:
    columns = ["service", "events", "errors", "error_rate", "failed_orders", "stalled_orders"]
    return pd.DataFrame(health["services"], columns=columns)


def render(health: dict[str, Any], fmt: Format) -> str:
    if fmt == "json":
        return orjson.dumps(health, option=orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z).decode() + "\n"
    if fmt == "csv":
        totals = {
            "service": "(release)",
            "events": health["events"],
            "errors": health["errors"],
            "error_rate": None,
            "failed_orders": health["failed_orders"],
            "stalled_orders": health["stalled_orders"],
        }
        frame = pd.concat([pd.DataFrame([totals]), services_frame(health)], ignore_index=True)
        frame.insert(0, "release", health["version"])
        for key in sorted(RATES):
            frame[key] = [health[key], *[None] * (len(frame) - 1)]
        frame = frame.map(inert_cell)
        csv: str = frame.to_csv(index=False, lineterminator="\n")
        return csv
    template = _templates.get_template(f"release_report.{fmt}.j2")
    return template.render(health=health, headline=headline(health), services=health["services"])


def render_gate(verdict: dict[str, Any], format: GateFormat) -> str:
    """The release gate's verdict for a pipeline's log (text), a program (json) or a pull
    request comment (md)."""
    if format == "json":
        return orjson.dumps(verdict, option=orjson.OPT_INDENT_2).decode() + "\n"
    mark = {"pass": "PASS", "fail": "FAIL", "insufficient_data": "NOT ENOUGH DATA"}  # nosec B105  # verdicts, not passwords
    baseline = verdict["baseline"] or "no baseline"
    head = f"{mark[verdict['verdict']]}: release {verdict['version']} against {baseline}"
    lines = [f"## {head}" if format == "md" else head]
    bullet = "- " if format == "md" else "  "
    lines += [f"{bullet}{reason}" for reason in verdict["reasons"]]
    if verdict["checks"]:
        lines.append("" if format == "md" else "checks:")
        lines += [f"{bullet}{check['reason']}" for check in verdict["checks"]]
    return "\n".join(lines) + "\n"
