"""users: registration, login with a checked password, HS256 tokens (5 min / 15 min)."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from fastapi import APIRouter, Depends, FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from shop.database import ShopBase, seed_once, service_database
from shop.instrument import init_sentry
from shop.seed import DEMO_PASSWORD, USERS
from shop.services.common import context_of, liveness_router
from shop.settings import ShopSettings

ACCESS_TTL = timedelta(minutes=5)
REFRESH_TTL = timedelta(minutes=15)


class User(ShopBase):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    firstname: Mapped[str] = mapped_column(String(100))
    lastname: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200))


class Registration(BaseModel):
    username: str
    password: str
    firstname: str = ""
    lastname: str = ""
    email: str = ""


class Credentials(BaseModel):
    username: str
    password: str


class AccessToken(BaseModel):
    access_token: str


class RefreshToken(BaseModel):
    refresh_token: str


def public(user: User) -> dict[str, str]:
    return {
        "id": user.id,
        "username": user.username,
        "firstname": user.firstname,
        "lastname": user.lastname,
        "email": user.email,
    }


@dataclass(frozen=True)
class UsersContext:
    jwt_secret: str
    sessions: sessionmaker[Session]
    hasher: PasswordHasher

    def token(self, user_id: str, kind: str, ttl: timedelta) -> str:
        now = datetime.now(UTC)
        claims = {"sub": user_id, "type": kind, "iat": now, "exp": now + ttl}
        return jwt.encode(claims, self.jwt_secret, algorithm="HS256")

    def claims_of(self, encoded: str, kind: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                encoded, self.jwt_secret, algorithms=["HS256"], options={"require": ["sub"]}
            )
        except jwt.PyJWTError:
            raise HTTPException(401, "invalid or expired token") from None
        if claims.get("type") != kind:
            raise HTTPException(401, f"not an {kind} token")
        return claims


Directory = Annotated[UsersContext, Depends(context_of(UsersContext))]

accounts = APIRouter()
tokens = APIRouter()


@accounts.post("/register", status_code=201)
def register(body: Registration, directory: Directory) -> dict[str, Any]:
    with directory.sessions.begin() as session:
        if session.scalar(select(User.id).where(User.username == body.username)):
            raise HTTPException(409, "username already taken")
        user = User(
            id=str(uuid.uuid4()),
            username=body.username,
            password_hash=directory.hasher.hash(body.password),
            firstname=body.firstname,
            lastname=body.lastname,
            email=body.email,
        )
        session.add(user)
    return {"message": "User created successfully!", "resourceId": user.id, "status": 201}


@tokens.post("/login")
def login(body: Credentials, directory: Directory) -> dict[str, Any]:
    with directory.sessions() as session:
        user = session.scalar(select(User).where(User.username == body.username))
    try:
        if user is None or not directory.hasher.verify(user.password_hash, body.password):
            raise VerificationError
    except VerificationError:
        raise HTTPException(401, "wrong username or password") from None
    return {
        "access_token": directory.token(user.id, "access", ACCESS_TTL),
        "refresh_token": directory.token(user.id, "refresh", REFRESH_TTL),
        "userid": user.id,
        "status": 200,
    }


@tokens.post("/refresh-token")
def refresh(body: RefreshToken, directory: Directory) -> dict[str, Any]:
    # Upstream issued refreshed tokens for one fixed user: here, the token's own subject.
    claims = directory.claims_of(body.refresh_token, "refresh")
    return {"access_token": directory.token(claims["sub"], "access", ACCESS_TTL), "status": 200}


@tokens.post("/verify-token")
def verify(body: AccessToken, directory: Directory) -> dict[str, Any]:
    claims = directory.claims_of(body.access_token, "access")
    return {"message": "Token Valid. User Authorized", "userid": claims["sub"], "status": 200}


@accounts.get("/users")
def users(directory: Directory) -> dict[str, Any]:
    with directory.sessions() as session:
        return {"data": [public(u) for u in session.scalars(select(User))]}


@accounts.get("/users/{user_id}")
def user(user_id: str, directory: Directory) -> dict[str, Any]:
    with directory.sessions() as session:
        found = session.get(User, user_id)
    if found is None:
        raise HTTPException(404, "no such user")
    return {"data": public(found), "status": 200}


def demo_user(name: str, hasher: PasswordHasher) -> User:
    return User(
        id=str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.acmefitness.com")),
        username=name,
        password_hash=hasher.hash(DEMO_PASSWORD),
        firstname=name.capitalize(),
        lastname="Acme",
        email=f"{name}@acmefitness.com",
    )


def create_app(settings: ShopSettings) -> FastAPI:
    init_sentry("users", settings)
    if not settings.jwt_secret:
        raise RuntimeError("SHOP_JWT_SECRET is not set: start the services with `sentrail shop`")
    sessions = service_database(settings.data_dir, "users", User)
    hasher = PasswordHasher()
    seed_once(sessions, User.id, (demo_user(name, hasher) for name in USERS))
    app = FastAPI(title="ACME users")
    app.state.context = UsersContext(settings.jwt_secret, sessions, hasher)
    app.include_router(accounts)
    app.include_router(tokens)
    app.include_router(liveness_router("users service is alive"))
    return app
