"""`sentrail`: the command line (CONTRACT.md)."""

from typing import Annotated

import typer
import uvicorn

from sentrail.settings import ServerSettings
from store import migrations
from store.engine import Database
from store.errors import SentrailError
from store.projects import create_project, dsn, find_project, list_projects

app = typer.Typer(help="A self-hosted backend for Sentry data.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations (Alembic).", no_args_is_help=True)
project_app = typer.Typer(help="Projects and their DSNs.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(project_app, name="project")

Host = Annotated[str, typer.Option(help="Address to bind; 0.0.0.0 exposes it to the network.")]
Port = Annotated[int, typer.Option(min=1, max=65535)]


def _base_url(url: str | None) -> str:
    return url or ServerSettings().public_url or "http://127.0.0.1:8000"


@app.command()
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
) -> None:
    """Collector + read API in one server."""
    uvicorn.run(
        "sentrail.app:create_default_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level="info",
        timeout_graceful_shutdown=10,
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Migrate the database up to REVISION (default: the newest)."""
    migrations.upgrade(Database().settings.database_url, revision)


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (`base` empties it)."""
    migrations.downgrade(Database().settings.database_url, revision)


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and the newest one."""
    database = Database()
    current = migrations.current_revision(database.engine)
    head = migrations.head_revision(database.settings.database_url)
    state = "up to date" if current == head else "behind: run `sentrail db upgrade`"
    typer.echo(f"current: {current or 'none'}\nhead: {head}\n{state}")


@project_app.command("create")
def project_create(
    name: str,
    url: Annotated[str | None, typer.Option(help="Public URL of sentrail, for the DSN.")] = None,
    exist_ok: Annotated[bool, typer.Option(help="Print the DSN of an existing project.")] = False,
) -> None:
    """Create a project and print its DSN on the last line."""
    database = Database()
    try:
        with database.sessions.begin() as session:
            existing = find_project(session=session, name=name) if exist_ok else None
            project = existing or create_project(session=session, name=name)
            line = dsn(project, _base_url(url))
    except SentrailError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{'project' if existing else 'created project'} {name} (id {project.id})")
    typer.echo(line)


@project_app.command("list")
def project_list(
    url: Annotated[str | None, typer.Option(help="Public URL of sentrail, for the DSN.")] = None,
) -> None:
    """Projects with their DSNs."""
    with Database().sessions() as session:
        for project in list_projects(session=session):
            typer.echo(f"{project.id}\t{project.name}\t{dsn(project, _base_url(url))}")
