import uuid
from typing import Any

import pytest
import sentry_sdk
from hypothesis import given
from hypothesis import strategies as st
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from shop.instrument import init_sentry, log_step, mask_cards
from shop.settings import ShopSettings


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


class Recorder(Transport):
    """Keeps the envelopes the SDK would send."""

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)


def test_a_business_step_is_a_log_entry_with_the_order_id_as_an_attribute() -> None:
    settings = ShopSettings.model_validate({"SENTRY_DSN": "http://key@127.0.0.1:9/1"})
    init_sentry("payment", settings)
    client = sentry_sdk.get_client()
    recorder = Recorder(client.options)
    client.transport = recorder
    try:
        order = str(uuid.uuid4())
        log_step("order {order_id} charged with card {card}", order, card="4111111111111111")
        sentry_sdk.flush(timeout=5)
    finally:
        sentry_sdk.init()  # disabled again for the other tests
    [entry] = [
        e for envelope in recorder.envelopes for item in envelope.items if item.type == "log"
        for e in (item.payload.json or {}).get("items", [])
    ]  # fmt: skip
    attributes = {name: value["value"] for name, value in entry["attributes"].items()}
    assert entry["level"] == "info"
    assert entry["body"] == f"order {order} charged with card ********1111"
    assert attributes["order_id"] == order
    assert attributes["sentry.message.template"] == "order {order_id} charged with card {card}"
    assert attributes["sentry.message.parameter.order_id"] == order
    assert attributes["sentry.message.parameter.card"] == "********1111"
