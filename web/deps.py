"""The one way a request gets a database session."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from store.engine import Database


def get_database(request: Request) -> Database:
    database: Database = request.state.database
    return database


def get_session(request: Request) -> Iterator[Session]:
    yield from get_database(request).session()


SessionDep = Annotated[Session, Depends(get_session)]
DatabaseDep = Annotated[Database, Depends(get_database)]
