"""users: registration, login with a checked password, HS256 tokens (5 min / 15 min)."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from shop.database import ShopBase, service_engine, session_factory
from shop.instrument import init_sentry
from shop.seed import DEMO_PASSWORD, USERS
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


def create_app(settings: ShopSettings) -> FastAPI:
    init_sentry("users", settings)
    if not settings.jwt_secret:
        raise RuntimeError("SHOP_JWT_SECRET is not set: start the services with `sentrail shop`")
    engine = service_engine(settings.data_dir, "users")
    ShopBase.metadata.create_all(engine, tables=[User.__table__])  # type: ignore[list-item]
    sessions = session_factory(engine)
    hasher = PasswordHasher()
    with sessions.begin() as session:
        if session.scalar(select(User.id).limit(1)) is None:
            for name in USERS:
                session.add(
                    User(
                        id=str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{name}.acmefitness.com")),
                        username=name,
                        password_hash=hasher.hash(DEMO_PASSWORD),
                        firstname=name.capitalize(),
                        lastname="Acme",
                        email=f"{name}@acmefitness.com",
                    )
                )

    def token(user_id: str, kind: str, ttl: timedelta) -> str:
        now = datetime.now(UTC)
        claims = {"sub": user_id, "type": kind, "iat": now, "exp": now + ttl}
        return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")

    def claims_of(encoded: str, kind: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                encoded, settings.jwt_secret, algorithms=["HS256"], options={"require": ["sub"]}
            )
        except jwt.PyJWTError:
            raise HTTPException(401, "invalid or expired token") from None
        if claims.get("type") != kind:
            raise HTTPException(401, f"not an {kind} token")
        return claims

    app = FastAPI(title="ACME users")

    @app.post("/register", status_code=201)
    def register(body: Registration) -> dict[str, Any]:
        with sessions.begin() as session:
            if session.scalar(select(User.id).where(User.username == body.username)):
                raise HTTPException(409, "username already taken")
            user = User(
                id=str(uuid.uuid4()),
                username=body.username,
                password_hash=hasher.hash(body.password),
                firstname=body.firstname,
                lastname=body.lastname,
                email=body.email,
            )
            session.add(user)
        return {"message": "User created successfully!", "resourceId": user.id, "status": 201}

    @app.post("/login")
    def login(body: Credentials) -> dict[str, Any]:
        with sessions() as session:
            user = session.scalar(select(User).where(User.username == body.username))
        try:
            if user is None or not hasher.verify(user.password_hash, body.password):
                raise VerificationError
        except VerificationError:
            raise HTTPException(401, "wrong username or password") from None
        return {
            "access_token": token(user.id, "access", ACCESS_TTL),
            "refresh_token": token(user.id, "refresh", REFRESH_TTL),
            "userid": user.id,
            "status": 200,
        }

    @app.post("/refresh-token")
    def refresh(body: RefreshToken) -> dict[str, Any]:
        # Upstream issued refreshed tokens for one fixed user: here, the token's own subject.
        claims = claims_of(body.refresh_token, "refresh")
        return {"access_token": token(claims["sub"], "access", ACCESS_TTL), "status": 200}

    @app.post("/verify-token")
    def verify(body: AccessToken) -> dict[str, Any]:
        claims = claims_of(body.access_token, "access")
        return {"message": "Token Valid. User Authorized", "userid": claims["sub"], "status": 200}

    @app.get("/users")
    def users() -> dict[str, Any]:
        with sessions() as session:
            return {"data": [public(u) for u in session.scalars(select(User))]}

    @app.get("/users/{user_id}")
    def user(user_id: str) -> dict[str, Any]:
        with sessions() as session:
            found = session.get(User, user_id)
        if found is None:
            raise HTTPException(404, "no such user")
        return {"data": public(found), "status": 200}

    @app.get("/liveness")
    def liveness() -> dict[str, Any]:
        return {"message": "users service is alive", "status": 200}

    return app
