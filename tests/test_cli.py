import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentrail.cli import app

runner = CliRunner()


@pytest.fixture
def env(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SENTRAIL_DATABASE_URL", empty_database_url)
    return empty_database_url


def test_db_and_project_commands(env: str) -> None:
    current = runner.invoke(app, ["db", "current"])
    assert "current: none" in current.output and "behind" in current.output
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert "up to date" in runner.invoke(app, ["db", "current"]).output

    created = runner.invoke(app, ["project", "create", "shop", "--url", "http://sentrail:9000"])
    assert created.exit_code == 0, created.output
    dsn = created.output.strip().splitlines()[-1]
    assert dsn.startswith("http://") and dsn.endswith("@sentrail:9000/1")

    again = runner.invoke(app, ["project", "create", "shop"])
    assert again.exit_code == 1 and "exists already" in again.output
    same = runner.invoke(
        app, ["project", "create", "shop", "--exist-ok", "--url", "http://sentrail:9000"]
    )
    assert same.output.strip().splitlines()[-1] == dsn

    listed = runner.invoke(app, ["project", "list", "--url", "http://sentrail:9000"])
    assert listed.output.strip() == f"1\tshop\t{dsn}"

    assert runner.invoke(app, ["db", "downgrade", "base"]).exit_code == 0
    assert "current: none" in runner.invoke(app, ["db", "current"]).output


def test_every_command_has_help() -> None:
    for args in (
        ["--help"],
        ["serve", "--help"],
        ["db", "--help"],
        ["project", "--help"],
        ["project", "create", "--help"],
        ["release", "gate", "--help"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "Usage" in result.output


def test_several_workers_on_a_taken_port_is_a_clear_error(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTRAIL_ROLES", '["collector"]')  # serve sets it; restored after
    with socket.socket() as taken:
        # Taken by a server that shares its port, as another `serve --workers` would.
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["serve", "--workers", "2", "--port", str(port)])
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


def test_a_bad_alert_rules_file_stops_serve_and_the_correlator_naming_its_line(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "alerts.toml"
    rules.write_text('[[rules]]\nname = "stalls"\ncondition = "orders_stalled"\nwindow = -5\n')
    monkeypatch.setenv("SENTRAIL_ALERT_RULES", str(rules))
    for command in (["serve", "--port", "1"], ["correlator"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        assert f"{rules}: 1 problem(s)" in result.output
        assert "line 4: rules.0.window: Input should be greater than 0" in result.output
