import secrets
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.errors import BadRequest
from store.models import Project


def create_project(*, session: Session, name: str) -> Project:
    name = name.strip()
    if not name or len(name) > 100:
        raise BadRequest("a project name is 1 to 100 characters")
    if find_project(session=session, name=name) is not None:
        raise BadRequest(f"a project named {name!r} exists already")
    project = Project(name=name, public_key=secrets.token_hex(16), created_at=datetime.now(UTC))
    session.add(project)
    session.flush()
    return project


def list_projects(*, session: Session) -> list[Project]:
    return list(session.scalars(select(Project).order_by(Project.id)))


def find_project(*, session: Session, name: str) -> Project | None:
    return session.scalar(select(Project).where(Project.name == name.strip()))


def dsn(project: Project, base_url: str) -> str:
    """`{scheme}://{public_key}@{host}[:{port}]/{project_id}`
    (docs/protocol.md#dsn-and-authentication)."""
    scheme, _, host = base_url.rstrip("/").partition("://")
    return f"{scheme}://{project.public_key}@{host}/{project.id}"
