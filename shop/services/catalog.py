"""catalog: the products, in its own SQL database. In the bad release it fails for some."""

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel
from sqlalchemy import JSON, Float, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from shop.database import ShopBase, seed_once, service_database
from shop.faults import share_hit
from shop.instrument import init_sentry
from shop.seed import PRODUCTS
from shop.services.common import FaultView, context_of, liveness_router, redis_client
from shop.settings import ShopSettings

# Share of products the bad release cannot serve.
BAD_RELEASE_SHARE = 0.15


class Product(ShopBase):
    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    short_description: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    image_urls: Mapped[list[str]] = mapped_column(JSON)
    price: Mapped[float] = mapped_column(Float)
    tags: Mapped[list[str]] = mapped_column(JSON)


class NewProduct(BaseModel):
    name: str
    shortDescription: str = ""
    description: str = ""
    imageUrl1: str = ""
    imageUrl2: str = ""
    imageUrl3: str = ""
    price: float
    tags: list[str] = []


def product_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"acmefitness/catalog/{name}"))


def item(product: Product) -> dict[str, Any]:
    urls = [*product.image_urls, "", "", ""][:3]
    return {
        "id": product.id,
        "name": product.name,
        "shortDescription": product.short_description,
        "description": product.description,
        "imageUrl1": urls[0],
        "imageUrl2": urls[1],
        "imageUrl3": urls[2],
        "price": product.price,
        "tags": product.tags,
    }


class InventoryError(LookupError):
    """What the bad release raises for the products it lost."""


@dataclass(frozen=True)
class CatalogContext:
    settings: ShopSettings
    sessions: sessionmaker[Session]
    faults: FaultView


Catalog = Annotated[CatalogContext, Depends(context_of(CatalogContext))]

routes = APIRouter()


@routes.get("/products")
def products(catalog: Catalog) -> dict[str, Any]:
    with catalog.sessions() as session:
        return {"data": [item(p) for p in session.scalars(select(Product))]}


@routes.get("/products/{pid}")
def product(pid: str, catalog: Catalog) -> dict[str, Any]:
    with catalog.sessions() as session:
        found = session.get(Product, pid)
    if found is None:
        raise HTTPException(404, "product not found")
    if catalog.faults.current().bad_release and share_hit(found.id, BAD_RELEASE_SHARE):
        raise InventoryError(f"inventory record missing for product {found.id}")
    return {"data": item(found), "status": 200}


@routes.post("/products", status_code=201)
def add_product(
    body: NewProduct, catalog: Catalog, authorization: Annotated[str, Header()] = ""
) -> dict[str, Any]:
    scheme, _, given = authorization.partition(" ")
    verified = httpx.post(
        f"{catalog.settings.url_of('users')}/verify-token", json={"access_token": given}, timeout=5
    )
    if scheme.lower() != "bearer" or verified.status_code != 200:
        raise HTTPException(401, "a valid access token is required")
    new = Product(
        id=str(uuid.uuid4()),
        name=body.name,
        short_description=body.shortDescription,
        description=body.description,
        image_urls=[u for u in (body.imageUrl1, body.imageUrl2, body.imageUrl3) if u],
        price=body.price,
        tags=body.tags,
    )
    with catalog.sessions.begin() as session:
        session.add(new)
    return {"message": "Product created successfully!", "resourceId": new.id, "status": 201}


def seed_product(name: str, price: float, tag: str) -> Product:
    return Product(
        id=product_id(name),
        name=name,
        short_description=f"{name}: fit for every day",
        description=f"The {name.lower()} our customers love.",
        image_urls=[f"/static/images/{tag}_{i}.jpg" for i in (1, 2, 3)],
        price=price,
        tags=[tag],
    )


def create_app(settings: ShopSettings) -> FastAPI:
    init_sentry("catalog", settings)
    sessions = service_database(settings.data_dir, "catalog", Product)
    faults = FaultView(redis_client(settings))
    seed_once(sessions, Product.id, (seed_product(*row) for row in PRODUCTS))
    app = FastAPI(title="ACME catalog")
    app.state.context = CatalogContext(settings, sessions, faults)
    app.include_router(routes)
    app.include_router(liveness_router("catalog service is alive"))
    return app
