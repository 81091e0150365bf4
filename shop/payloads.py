"""Payload shapes more than one service speaks (docs/shop.md#services): a cart line and a card."""

from pydantic import BaseModel


class CartLine(BaseModel):
    itemid: str
    name: str = ""
    description: str = ""
    quantity: int = 1
    price: float = 0.0


class CardIn(BaseModel):
    type: str = ""
    number: str
    expMonth: int
    expYear: int
    ccv: str
