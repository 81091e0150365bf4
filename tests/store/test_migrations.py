import pytest
from alembic import command
from sqlalchemy import inspect

from store import migrations
from store.engine import Database
from store.models import Base
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
