"""`sentrail`: the command line (docs/reference.md#cli)."""

import asyncio
import gc
import logging
import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
import uvicorn
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select

from correlator.alerts_delivery import AlertThreads
from correlator.monitors import MonitorChecker, MonitorThread
from correlator.worker import Correlator
from dashboard.report import Format, GateFormat, render, render_gate
from reads.gate import GateLimits, release_gate
from reads.releases import release_health
from rules.alerts import AlertRulesError, AlertSettings, alert_rules
from sentrail import http
from sentrail.app import CorrelatorAndPruner, dashboard_url
from sentrail.demo import Demo
from sentrail.rekey import rekey
from sentrail.rules_cli import rules_app
from sentrail.settings import ALL_ROLES, Role, ServerSettings, UnknownSetting, check_environment
from sentrail.workers import balances_connections, bind_sockets, run_workers
from shop.runner import running_shop
from shop.settings import SERVICES, ShopSettings
from shop.traffic import Scenario, run_traffic, write_truth
from store import migrations
from store.engine import Database
from store.errors import SentrailError
from store.models import Journey
from store.projects import create_project, dsn, find_project, list_projects
from store.retention import prune

app = typer.Typer(help="A self-hosted backend for Sentry data.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations (Alembic).", no_args_is_help=True)
report_app = typer.Typer(help="Reports.", no_args_is_help=True)
project_app = typer.Typer(help="Projects and their DSNs.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(project_app, name="project")
app.add_typer(report_app, name="report")
release_app = typer.Typer(help="Releases: the deploy gate.", no_args_is_help=True)
app.add_typer(release_app, name="release")
GATE_EXIT = {"pass": 0, "fail": 1, "insufficient_data": 2}  # nosec B105  # verdicts, not passwords
app.add_typer(rules_app, name="rules")


@app.callback()
def _check_settings() -> None:
    """A mistyped `SENTRAIL_` variable stops every command before it does anything."""
    try:
        check_environment()
    except UnknownSetting as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None


Host = Annotated[str, typer.Option(help="Address to bind; 0.0.0.0 exposes it to the network.")]
Port = Annotated[int, typer.Option(min=1, max=65535)]


def _base_url(url: str | None) -> str:
    return url or ServerSettings().public_url or "http://127.0.0.1:8000"


Workers = Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")]
AccessLog = Annotated[bool, typer.Option(help="Log every request.")]


@app.command()
def serve(
    host: Host = "127.0.0.1", port: Port = 8000, workers: Workers = 1, access_log: AccessLog = False
) -> None:
    """Collector + correlator + dashboard in one server."""
    _serve(ALL_ROLES, host, port, workers, access_log)


@app.command()
def collector(
    host: Host = "127.0.0.1", port: Port = 8000, workers: Workers = 1, access_log: AccessLog = False
) -> None:
    """The collector alone (SDK ingest and webhooks): run several behind a load balancer."""
    _serve(frozenset({"collector"}), host, port, workers, access_log)


@app.command()
def dashboard(
    host: Host = "127.0.0.1", port: Port = 8000, workers: Workers = 1, access_log: AccessLog = False
) -> None:
    """The dashboard and read API alone."""
    _serve(frozenset({"dashboard"}), host, port, workers, access_log)


@app.command()
def correlator() -> None:
    """The correlator worker alone, until Ctrl-C or SIGTERM; several may share one PostgreSQL."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    alerting = _checked_alerts()
    database = Database()
    typer.echo("correlator running; Ctrl-C stops it")
    monitors = MonitorThread(MonitorChecker(database))
    monitors.start()
    alerts = AlertThreads.build(database, alert_rules(alerting), alerting, dashboard_url(alerting))
    if alerts is not None:
        alerts.start()
    Correlator(database).run_forever(stop)
    monitors.stop()
    if alerts is not None:
        alerts.stop()
    database.dispose()


def _checked_alerts(base_url: str | None = None) -> AlertSettings:
    """The alert settings, once the rules file is known to be usable: a bad file stops the
    command with the line of each problem. Notifications link to `base_url` unless
    SENTRAIL_ALERT_DASHBOARD_URL or SENTRAIL_PUBLIC_URL says otherwise."""
    settings = AlertSettings()
    try:
        alert_rules(settings)
    except AlertRulesError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from None
    if base_url and not settings.dashboard_url and not ServerSettings().public_url:
        # Worker processes read it from the environment, like every other setting.
        os.environ["SENTRAIL_ALERT_DASHBOARD_URL"] = base_url
        settings = AlertSettings()
    return settings


@app.command()
def correlate(
    rebuild: Annotated[bool, typer.Option(help="Forget every journey and start over.")] = False,
    rekey_keys: Annotated[
        bool,
        typer.Option(
            "--rekey/--no-rekey",
            help="With --rebuild: extract keys again from the stored payloads under the "
            "rules in force first.",
        ),
    ] = True,
) -> None:
    """Run the correlator once, until every stored event is correlated. With --rebuild, keys
    are extracted again from the stored payloads first, so old events follow changed rules."""
    database = Database()
    worker = Correlator(database)
    started = time.perf_counter()
    if rebuild and rekey_keys:
        keys = rekey(database, worker.rules)
        unreadable = f"; {keys.unreadable:,} unreadable kept theirs" if keys.unreadable else ""
        typer.echo(
            f"re-extracted keys: {keys.events:,} events read, {keys.changed:,} changed keys"
            f"{unreadable} ({time.perf_counter() - started:.1f} s)"
        )
    result = worker.rebuild() if rebuild else worker.run_until_idle()
    elapsed = time.perf_counter() - started
    with database.sessions() as session:
        journeys = session.scalar(select(func.count()).select_from(Journey))
    typer.echo(
        f"{'rebuilt' if rebuild else 'correlated'}: {result.events} events, "
        f"{journeys} journeys in {elapsed:.1f} s"
    )
    database.dispose()


@app.command("prune")
def prune_command(
    older_than_days: Annotated[
        float | None, typer.Option(min=0.001, help="Default: SENTRAIL_RETENTION_DAYS.")
    ] = None,
) -> None:
    """Delete events, journeys, webhook deliveries, feedback and attachments older than the
    retention, in batches."""
    database = Database()
    days = older_than_days or database.settings.retention_days
    if days is None:
        typer.echo("error: give --older-than-days or set SENTRAIL_RETENTION_DAYS", err=True)
        raise typer.Exit(1)
    result = prune(database, timedelta(days=days))
    database.dispose()
    typer.echo(
        f"pruned {result.events} events, {result.journeys} journeys, "
        f"{result.deliveries} webhook deliveries, {result.session_states} session states, "
        f"{result.check_ins} check-ins, {result.spans} spans, {result.logs} log entries, "
        f"{result.feedback} feedback, {result.attachments} attachments, "
        f"{result.alerts} resolved alerts "
        f"older than {days:g} days"
    )


@report_app.command("release")
def report_release(
    version: str,
    format: Annotated[Format, typer.Option("--format", "-f")] = "md",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
    environment: Annotated[str | None, typer.Option(help="Compare within it.")] = None,
) -> None:
    """Release health: crash-free sessions and users, orders, new and regressed issues,
    services, and the change since the previous release."""
    database = Database()
    with database.sessions() as session:
        health = release_health(session, version, environment)
    database.dispose()
    if health is None:
        typer.echo(f"error: no release {version}", err=True)
        raise typer.Exit(1)
    text = render(health, format)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}")


@release_app.command("gate")
def release_gate_command(
    version: str,
    baseline: Annotated[str | None, typer.Option(help="Default: the release before it.")] = None,
    environment: Annotated[str | None, typer.Option(help="Compare within it.")] = None,
    min_orders: Annotated[int, typer.Option(min=0)] = GateLimits.min_orders,
    max_success_drop: Annotated[float, typer.Option(min=0, max=1)] = GateLimits.max_success_drop,
    max_crash_free_drop: Annotated[
        float, typer.Option(min=0, max=1)
    ] = GateLimits.max_crash_free_drop,
    no_new_issues: Annotated[bool, typer.Option("--no-new-issues")] = False,
    format: Annotated[GateFormat, typer.Option("--format", "-f")] = "text",
) -> None:
    """Exit 0 when VERSION is at least as healthy as its baseline, 1 when it is not (with the
    reasons), 2 when there is not enough data yet (docs/reference.md#gate)."""
    limits = GateLimits(
        baseline, environment, min_orders, max_success_drop, max_crash_free_drop, no_new_issues
    )
    database = Database()
    with database.sessions() as session:
        verdict = release_gate(session, version, limits)
    database.dispose()
    if verdict is None:
        typer.echo(f"error: no release {version}", err=True)
        raise typer.Exit(2)
    typer.echo(render_gate(verdict, format), nl=False)
    raise typer.Exit(GATE_EXIT[verdict["verdict"]])


@app.command()
def demo(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    shop_port: Annotated[int, typer.Option(min=1, max=65528)] = 8100,
    orders: Annotated[int, typer.Option(min=4, help="Orders across all phases.")] = 150,
    duration: Annotated[
        float | None, typer.Option(min=1, help="Stop after this many seconds.")
    ] = None,
    data_dir: Annotated[Path, typer.Option(help="Logs and the shop's own data.")] = Path(".demo"),
) -> None:
    """The main job on the embedded defaults: sentrail (collector, correlator, dashboard) and
    the ACME shop, traffic with bad cards, a shipping outage and a bad second release; runs
    until Ctrl-C (or --duration)."""
    stop = threading.Event()
    runner = Demo(
        host=host, port=port, shop_port=shop_port, orders=orders, data_dir=data_dir, say=typer.echo
    )

    def request_stop(*_: object) -> None:
        stop.set()
        runner.stop_event.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            runner.run()
        except BaseException as exc:  # reported by the main thread, unless stopping anyway
            if not stop.is_set():
                failure.append(exc)
            stop.set()

    worker = threading.Thread(target=run, name="demo", daemon=True)
    started = time.monotonic()
    worker.start()
    announced = False
    while not stop.wait(0.5):
        if duration is not None and time.monotonic() - started >= duration:
            break
        if not worker.is_alive() and not announced:
            announced = True
            typer.echo(f"traffic done; the dashboard stays up at {runner.url}. Ctrl-C stops it.")
    typer.echo("stopping…")
    runner.stop()
    worker.join(30)
    if failure:
        typer.echo(f"error: {failure[0]}", err=True)
        raise typer.Exit(1)
    typer.echo("stopped: every process the demo started has exited")


@app.command("shop")
def shop_command(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65528, help="The frontend's port.")] = 8100,
    faults: Annotated[str | None, typer.Option(help="Faults to start with, as JSON.")] = None,
) -> None:
    """The ACME shop: seven services (frontend on PORT, the others on the ports after it),
    each sending to its own SENTRY_DSN_<SERVICE> (one project per service; SENTRY_DSN for the
    services without one) with SENTRY_RELEASE (default: the checkout's git SHA) and
    SENTRY_ENVIRONMENT. Without SENTRAIL_REDIS_URL an embedded Redis is started."""
    settings = ShopSettings(SHOP_HOST=host, SHOP_PORT=port)
    if faults is not None:
        settings.faults = faults
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with running_shop(settings) as shop:
        redis = "embedded" if shop.redis else settings.redis_url
        typer.echo(f"ACME shop at {shop.url} (release {settings.release}, Redis {redis})")
        silent = [service for service in SERVICES if not settings.dsn_of(service)]
        if silent:
            typer.echo(
                f"no DSN (SENTRY_DSN_<SERVICE> or SENTRY_DSN) for {', '.join(silent)}:"
                " they send nothing to Sentry",
                err=True,
            )
        typer.echo("Ctrl-C stops it")
        stop.wait()
    typer.echo("shop stopped")


@app.command()
def traffic(
    shop: Annotated[str, typer.Option(help="The shop's frontend.")] = "http://127.0.0.1:8100",
    orders: Annotated[int, typer.Option(min=1)] = 50,
    scenario: Annotated[Scenario, typer.Option()] = Scenario.healthy,
    truth: Annotated[Path | None, typer.Option(help="Write one JSON line per order.")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=256)] = 8,
    settle: Annotated[float, typer.Option(help="Seconds to wait for orders to settle.")] = 30.0,
    seed: Annotated[int | None, typer.Option(help="Random seed, to repeat a run.")] = None,
) -> None:
    """Customers browsing, filling carts and checking out, under a fault scenario."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    ) as progress:
        task = progress.add_task(f"{scenario.value}: orders", total=orders)
        result = asyncio.run(
            run_traffic(
                shop,
                orders=orders,
                scenario=scenario.value,
                concurrency=concurrency,
                settle_seconds=settle,
                seed=seed,
                on_progress=lambda n: progress.advance(task, n),
            )
        )
    outcomes = ", ".join(f"{n} {k}" for k, n in sorted(result.outcomes.items())) or "none"
    rate = len(result.placed) / result.seconds * 60 if result.seconds else 0.0
    typer.echo(
        f"{len(result.placed)} orders in {result.seconds:.1f} s ({rate:.0f}/min): {outcomes}; "
        f"{result.abandoned} checkouts abandoned"
    )
    if truth is not None:
        write_truth(truth, result.truth)
        typer.echo(f"wrote {truth}")


def _serve(roles: frozenset[Role], host: str, port: int, workers: int, access_log: bool) -> None:
    several = workers > 1 and balances_connections()
    # Several workers share one correlator, run here in their parent: one per worker would
    # only contend for the same events.
    in_workers = roles - {"correlator"} if several else roles
    if "correlator" in roles:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # nosec B104  # a link
        _checked_alerts(f"http://{shown}:{port}")
    # Worker processes read their roles from the environment, like every other setting.
    os.environ["SENTRAIL_ROLES"] = orjson.dumps(sorted(in_workers)).decode()
    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "access_log": access_log,
        "log_level": "info",
        "timeout_graceful_shutdown": 10,
        # SDKs keep connections open between sends: a long keep-alive makes it unlikely that
        # one reuses a connection at the moment the server closes it.
        "timeout_keep_alive": 75,
        # httptools with a cap on the request head (sentrail/http.py).
        "http": http.PROTOCOL,
    }
    if several:
        config = uvicorn.Config("sentrail.app:create_default_app", **options)
        try:
            sockets = bind_sockets(host, port, workers)
        except OSError as exc:
            typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror}", err=True)
            raise typer.Exit(1) from None
        if "correlator" not in roles:
            run_workers(config, sockets)
            return
        database = Database()
        background = CorrelatorAndPruner(database)
        background.start()
        # As in each worker (sentrail/app.py): a full collection here would pause the
        # correlator, on SQLite while it may hold the write lock that ingest waits for.
        gc.freeze()
        try:
            run_workers(config, sockets)
        finally:
            background.stop()
            database.dispose()
    else:
        uvicorn.run("sentrail.app:create_default_app", **options)


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
        with database.write_sessions.begin() as session:
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
