import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shop.instrument import mask_cards


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("card 4111111111111111 refused", "card ********1111 refused"),
        ("4111 1111 1111 1111", "********1111"),
        ("4111-1111-1111-1111,", "********1111,"),
        ("number=4222222222222", "number=********2222"),
    ],
)
def test_card_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_cards({"message": text, "crumbs": [text]}) == {
        "message": masked,
        "crumbs": [masked],
    }


def test_an_order_id_ending_in_sixteen_digits_is_not_a_card() -> None:
    # An order ID seen in CI: its last two groups are 16 digits joined by a dash.
    order = "7dc8115f-d0af-46b2-9122-556001527053"
    assert mask_cards(f"order [{order}]") == f"order [{order}]"
    assert mask_cards({"tags": {"order_id": order}}) == {"tags": {"order_id": order}}


@given(st.uuids())
def test_no_uuid_is_masked(value: uuid.UUID) -> None:
    # Every hex digit as a decimal one where it can be: the most card-like UUIDs there are.
    for text in (str(value), str(value).translate(str.maketrans("abcdef", "123456"))):
        assert mask_cards(f"order {text} paid") == f"order {text} paid"
