"""docker-compose.yml cannot run here (docker is only a client): it is checked against the
Compose specification's schema (vendored in tests/data, from the compose-spec project), and
every sentrail command it runs is checked against the CLI."""

import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from sentrail.cli import app

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SENTRAIL_SERVICES = {
    name: service
    for name, service in COMPOSE["services"].items()
    if service.get("image") == "sentrail:latest"
}


def test_the_file_follows_the_compose_specification() -> None:
    schema = json.loads((ROOT / "tests/data/compose_spec.json").read_text())
    jsonschema.Draft201909Validator(schema).validate(COMPOSE)
    broken = {"services": {"x": {"image": "redis", "healthcheck": {"retries": "many"}}}}
    with pytest.raises(jsonschema.ValidationError):  # the schema does catch mistakes
        jsonschema.Draft201909Validator(schema).validate(broken)


def commands() -> list[tuple[str, list[str]]]:
    """(service, argv after `sentrail`) for every sentrail command the file runs."""
    found = []
    for name, service in SENTRAIL_SERVICES.items():
        command = service.get("command", ["serve"])
        if service.get("entrypoint", ["sentrail"]) == ["sh", "-c"]:
            script = " ".join(command)
            for part in re.split(r"&&|\|", script.replace("$$(", " ").replace(")", " ")):
                words = shlex.split(part)
                if "sentrail" in words:
                    found.append((name, words[words.index("sentrail") + 1 :]))
        else:
            found.append((name, [str(word) for word in command]))
    return found


@pytest.mark.parametrize(("service", "argv"), commands())
def test_every_command_exists_with_its_options(service: str, argv: list[str]) -> None:
    words = [w for w in argv if not w.startswith("--") and not w.startswith("${")]
    path = []
    for word in words:  # the (sub)command names: leading words that are not option values
        probe = CliRunner().invoke(app, [*path, word, "--help"])
        if probe.exit_code != 0:
            break
        path.append(word)
    assert path, f"{service}: `sentrail {' '.join(argv)}` is not a command"
    help_text = CliRunner().invoke(app, [*path, "--help"], terminal_width=200).output
    for option in (w for w in argv if w.startswith("--")):
        assert option in help_text, f"{service}: {' '.join(path)} has no {option}"


def test_services_are_healthy_before_their_dependants_start() -> None:
    services: dict[str, Any] = COMPOSE["services"]
    for name, service in services.items():
        for needed, rule in (service.get("depends_on") or {}).items():
            assert needed in services, f"{name} depends on unknown {needed}"
            condition = rule["condition"]
            if condition == "service_healthy":
                assert services[needed].get("healthcheck", {}).get("disable") is not True or (
                    services[needed].get("image") == "sentrail:latest"
                ), f"{needed} has no health check"
    assert COMPOSE["services"]["collector"]["deploy"]["replicas"] == 2
    assert set(COMPOSE["volumes"]) >= {"pgdata", "redisdata"}


def test_no_secret_is_committed_and_every_variable_is_documented() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    variables = set(re.findall(r"\$\{([A-Z_]+)", text))
    documented = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert variables - {"SHOP_RELEASE"} <= documented
    assert "POSTGRES_PASSWORD:?" in text  # required, never defaulted
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text()


def test_the_proxy_sends_ingest_to_collectors_and_the_rest_to_the_dashboard() -> None:
    conf = (ROOT / "docker/nginx.conf").read_text()
    upstreams = set(re.findall(r"server (\w+):8000", conf))
    assert upstreams == {"collector", "dashboard"} <= set(COMPOSE["services"])
    assert re.search(r"location ~ \^/api/\[0-9\]\+/\(envelope\|store\)", conf)


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's `${NAME}`, `${NAME:-default}` and `${NAME:?error}` (the forms the file uses):
    an unset or empty NAME with `:?` stops compose before it starts anything."""

    def one(match: re.Match[str]) -> str:
        name, form, rest = match.group(1), match.group(2) or "", match.group(3) or ""
        value = env.get(name, "")
        if form == ":?" and not value:
            raise ValueError(f"required variable {name} is missing a value: {rest}")
        return value or (rest if form == ":-" else "")

    return re.sub(r"\$\{([A-Z_]+)(:[-?])?([^}]*)\}", one, text.replace("$$", "\0")).replace(
        "\0", "$"
    )


def test_compose_refuses_to_start_an_open_dashboard() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    env = {"POSTGRES_PASSWORD": "pw"}
    with pytest.raises(ValueError, match="SENTRAIL_DASHBOARD_TOKEN"):
        interpolate(text, env)
    with pytest.raises(ValueError, match="SENTRAIL_DASHBOARD_TOKEN"):
        interpolate(text, {**env, "SENTRAIL_DASHBOARD_TOKEN": ""})  # empty is no token
    token = "t" * 32
    resolved = yaml.safe_load(interpolate(text, {**env, "SENTRAIL_DASHBOARD_TOKEN": token}))
    assert resolved["services"]["dashboard"]["environment"]["SENTRAIL_DASHBOARD_TOKEN"] == token
    # Only the proxy publishes a port of sentrail's; the dashboard is reached through it.
    published = {name for name, s in resolved["services"].items() if s.get("ports")}
    assert published == {"proxy", "shop"}
