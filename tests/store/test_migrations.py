from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import inspect, select

from store import migrations
from store.engine import Database
from store.models import Base, Event, EventRollup, Project
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
