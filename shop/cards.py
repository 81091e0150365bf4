"""Card validation as the payment service does it, first failure wins
(docs/shop.md#card-validation)."""

from dataclasses import dataclass
from datetime import date

EXPIRED = "creditcard has expired"
INVALID = "creditcard number is not valid"
BAD_CVV = "creditcard cvv is not valid"

# (card type, prefixes); a prefix is "4" or a range "51-55" of equal-length prefixes.
BRANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("American Express", ("34", "37")),
    ("Discover", ("6011", "644-649", "65")),
    ("JCB", ("35",)),
    ("Mastercard", ("51-55",)),
    ("Visa", ("4",)),
)


@dataclass(frozen=True)
class Card:
    number: str
    exp_month: int
    exp_year: int
    cvv: str
    type: str | None = None


def brand_of(number: str) -> str | None:
    for brand, prefixes in BRANDS:
        for prefix in prefixes:
            low, _, high = prefix.partition("-")
            head = number[: len(low)]
            if head.isdigit() and int(low) <= int(head) <= int(high or low):
                return brand
    return None


def luhn_ok(number: str) -> bool:
    if not number.isdigit() or not 13 <= len(number) <= 19:
        return False
    total = 0
    for i, digit in enumerate(int(d) for d in reversed(number)):
        if i % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def validate(card: Card, today: date | None = None) -> str | None:
    """None when the card is valid, else the reason (ACME's messages)."""
    today = today or date.today()
    if not 1 <= card.exp_month <= 12 or not 1900 <= card.exp_year <= 2200:
        return EXPIRED
    if date(card.exp_year, card.exp_month, 1) < today:
        return EXPIRED
    number = card.number.replace(" ", "").replace("-", "")
    brand = brand_of(number)
    if brand is None or (card.type and card.type.lower() != brand.lower()):
        return INVALID
    if not luhn_ok(number):
        return INVALID
    if len(card.cvv) != (4 if brand == "American Express" else 3) or not card.cvv.isdigit():
        return BAD_CVV
    return None


def mask(number: str) -> str:
    """Every digit but the last four hidden."""
    digits = "".join(c for c in number if c.isdigit())
    return "*" * max(0, len(digits) - 4) + digits[-4:]
