from datetime import date

import pytest

from shop.cards import BAD_CVV, EXPIRED, INVALID, Card, brand_of, luhn_ok, mask, validate

TODAY = date(2026, 11, 27)


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4111111111111111", "Visa"),
        ("4222222222222", "Visa"),
        ("5500000000000004", "Mastercard"),
        ("340000000000009", "American Express"),
        ("6011000000000004", "Discover"),
        ("6450000000000000", "Discover"),
        ("3530111333300000", "JCB"),
        ("9999999999999995", None),
    ],
)
def test_brand_from_the_prefix(number: str, brand: str | None) -> None:
    assert brand_of(number) == brand


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and luhn_ok("4222222222222")
    assert not luhn_ok("4111111111111112")
    assert not luhn_ok("411111111111")  # 12 digits: too short


@pytest.mark.parametrize(
    ("card", "reason"),
    [
        (Card("4111111111111111", 12, 2027, "123"), None),
        (Card("4222222222222", 1, 2030, "123", type="Visa"), None),
        (Card("340000000000009", 5, 2030, "1234"), None),
        (Card("4111111111111111", 13, 2027, "123"), EXPIRED),
        (Card("4111111111111111", 10, 2026, "123"), EXPIRED),
        (Card("4111111111111111", 11, 2026, "123"), EXPIRED),  # the 1st of Nov. is past
        (Card("4111111111111111", 1, 2201, "123"), EXPIRED),
        (Card("4111111111111112", 12, 2027, "123"), INVALID),
        (Card("4111111111111111", 12, 2027, "123", type="Mastercard"), INVALID),
        (Card("9999999999999995", 12, 2027, "123"), INVALID),
        (Card("340000000000009", 5, 2030, "123"), BAD_CVV),
        (Card("4111111111111111", 12, 2027, "1234"), BAD_CVV),
        # First failure wins: expired before invalid.
        (Card("4111111111111112", 1, 2020, "1"), EXPIRED),
    ],
)
def test_validation_first_failure_wins(card: Card, reason: str | None) -> None:
    assert validate(card, today=TODAY) == reason


def test_mask_keeps_the_last_four() -> None:
    assert mask("4111 1111 1111 1111") == "************1111"
