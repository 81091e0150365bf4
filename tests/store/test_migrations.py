from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import inspect, select

from store import migrations
from store.engine import Database
from store.models import Base, Event, EventRollup, Journey, Project
from store.settings import DatabaseSettings


def test_upgrade_builds_every_table_and_check_finds_no_drift(empty_database_url: str) -> None:
    migrations.upgrade(empty_database_url)
    database = Database(DatabaseSettings(database_url=empty_database_url))
    try:
        tables = set(inspect(database.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert migrations.current_revision(database.engine) == migrations.head_revision(
            empty_database_url
        )
    finally:
        database.dispose()
    # `alembic check`: autogenerate against the migrated schema must find nothing to do.
    command.check(migrations.alembic_config(empty_database_url))


def test_downgrade_to_base_and_up_again(empty_database_url: str) -> None:
    migrations.upgrade(empty_database_url)
    migrations.downgrade(empty_database_url, "base")
    database = Database(DatabaseSettings(database_url=empty_database_url))
    try:
        assert set(inspect(database.engine).get_table_names()) <= {"alembic_version"}
        assert migrations.current_revision(database.engine) is None
    finally:
        database.dispose()
    migrations.upgrade(empty_database_url)
    command.check(migrations.alembic_config(empty_database_url))


def test_settings_refuse_nonsense_urls() -> None:
    with pytest.raises(ValueError, match="sqlite:// or postgresql://"):
        DatabaseSettings(database_url="mysql://root@localhost/x")
    url = DatabaseSettings(database_url="postgres://u@h/db").database_url
    assert url == "postgresql+psycopg://u@h/db"


def test_events_stored_before_the_rollups_are_counted_into_them(empty_database_url: str) -> None:
    migrations.upgrade(empty_database_url, "0002")
    database = Database(DatabaseSettings(database_url=empty_database_url))
    at = datetime(2026, 11, 26, 10, 42, 7, tzinfo=UTC)
    try:
        with database.engine.begin() as connection:
            connection.execute(
                Project.__table__.insert(),
                [{"id": 1, "name": "p", "public_key": "k" * 32, "created_at": at}],
            )
            connection.execute(
                Event.__table__.insert(),
                [
                    {
                        "project_id": 1, "event_id": f"{i:032x}", "type": kind,
                        "timestamp": at + timedelta(minutes=i), "received_at": at,
                        "level": level, "service": "payment", "release": "r1",
                        "environment": "prod", "title": "t", "culprit": "", "message": "",
                        "tags": {}, "source": "sdk", "payload": b"",
                    }
                    for i, (kind, level) in enumerate(
                        [("error", "error"), ("transaction", "info"), ("default", "fatal")]
                    )
                ],
            )  # fmt: skip
        migrations.upgrade(empty_database_url)
        with database.sessions() as session:
            [rollup] = session.scalars(select(EventRollup))
        assert (rollup.hour_at, rollup.release, rollup.service) == (
            datetime(2026, 11, 26, 10, tzinfo=UTC),
            "r1",
            "payment",
        )
        assert (rollup.events, rollup.errors) == (3, 2)
        assert rollup.last_error_at == at + timedelta(minutes=2)
    finally:
        database.dispose()


def test_journeys_stored_before_flows_are_checkout_journeys(empty_database_url: str) -> None:
    migrations.upgrade(empty_database_url, "0006")
    database = Database(DatabaseSettings(database_url=empty_database_url))
    at = datetime(2026, 11, 26, 10, 42, 7, tzinfo=UTC)
    journey = {
        "key": "o-1", "status": "completed", "first_seen_at": at, "last_seen_at": at,
        "event_count": 1, "error_count": 0, "services": ["order"], "impacted_services": [],
        "missing_hops": [], "releases": [], "environments": [], "trace_ids": [], "hops": [],
        "updated_at": at,
    }  # fmt: skip
    try:
        with database.engine.begin() as connection:
            # The journey table as 0006 left it: every column but `flow`.
            columns = [sa.column(name, Journey.__table__.c[name].type) for name in journey]
            connection.execute(sa.table("journey", *columns).insert(), [journey])
        migrations.upgrade(empty_database_url)
        with database.engine.begin() as connection:
            assert connection.execute(select(Journey.flow, Journey.key)).all() == [
                ("checkout", "o-1")
            ]
            # One key in two flows is two journeys.
            connection.execute(Journey.__table__.insert(), [{**journey, "flow": "refund"}])
        migrations.downgrade(empty_database_url, "0006")
        with database.engine.begin() as connection:
            keys = connection.execute(sa.text("SELECT key FROM journey")).scalars().all()
        assert keys == ["o-1"]
    finally:
        database.dispose()
