"""Each SQL service (users, catalog, order) has its own database: a SQLite file of its own."""

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Session, sessionmaker


class ShopBase(DeclarativeBase):
    """The shop's tables; nothing to do with sentrail's store."""


def service_engine(data_dir: Path, service: str) -> Engine:
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        f"sqlite:///{data_dir / f'{service}.db'}",
        connect_args={"check_same_thread": False, "timeout": 10},
    )

    @event.listens_for(engine, "connect")
    def _wal(connection: object, _record: object) -> None:
        cursor = connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def service_database(data_dir: Path, service: str, model: type[ShopBase]) -> sessionmaker[Session]:
    """The sessions of the service's database, its table created if it was not there."""
    engine = service_engine(data_dir, service)
    ShopBase.metadata.create_all(engine, tables=[model.__table__])  # type: ignore[list-item]
    return session_factory(engine)


def seed_once(
    sessions: sessionmaker[Session],
    key: InstrumentedAttribute[Any],
    rows: Iterable[ShopBase],
) -> None:
    """Adds `rows` to a table that has none yet (`key`: its primary key); `rows` is iterated only
    then, so a generator spares the work of building them on every start."""
    with sessions.begin() as session:
        if session.scalar(select(key).limit(1)) is None:
            session.add_all(rows)
