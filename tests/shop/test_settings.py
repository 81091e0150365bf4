"""One project per service: whoever starts the seven processes knows each one's DSN, and each
process is handed only its own, as SENTRY_DSN."""

import pytest

from shop.runner import Shop
from shop.settings import SERVICES, ShopSettings

SHARED = "http://shared@sentrail.test/1"
PAYMENT = "http://paykey@sentrail.test/6"


@pytest.fixture(autouse=True)
def no_dsn_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's own environment must not decide these tests."""
    for name in ("SENTRY_DSN", *(f"SENTRY_DSN_{s.upper()}" for s in SERVICES)):
        monkeypatch.delenv(name, raising=False)


def test_a_service_has_its_own_dsn_and_the_others_fall_back_to_sentry_dsn() -> None:
    settings = ShopSettings(SENTRY_DSN=SHARED, SENTRY_DSN_PAYMENT=PAYMENT)
    assert settings.dsn_of("payment") == PAYMENT
    assert {settings.dsn_of(s) for s in SERVICES if s != "payment"} == {SHARED}
    assert ShopSettings().dsn_of("frontend") is None  # no DSN at all: the SDK stays off


def test_per_service_dsns_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTRY_DSN_SHIPPING", "http://shipkey@sentrail.test/7")
    assert ShopSettings().dsn_of("shipping") == "http://shipkey@sentrail.test/7"


def test_with_dsns_sets_the_named_services_only() -> None:
    settings = ShopSettings(SENTRY_DSN=SHARED).with_dsns({"payment": PAYMENT})
    assert settings.dsn_of("payment") == PAYMENT and settings.dsn_of("order") == SHARED
    with pytest.raises(ValueError, match="billing"):
        settings.with_dsns({"billing": PAYMENT})
    with pytest.raises(ValueError, match="billing"):
        settings.dsn_of("billing")


def test_each_process_gets_only_its_own_dsn(monkeypatch: pytest.MonkeyPatch) -> None:
    dsns = {s: f"http://key{i}@sentrail.test/{i}" for i, s in enumerate(SERVICES, start=1)}
    monkeypatch.setenv("SENTRY_DSN_CART", "http://stale@sentrail.test/99")  # the runner's own
    shop = Shop(ShopSettings(SENTRY_DSN=SHARED).with_dsns(dsns))
    for service in SERVICES:
        env = shop.environment(service)
        given = {k: v for k, v in env.items() if k.startswith("SENTRY_DSN")}
        own = f"SENTRY_DSN_{service.upper()}"
        assert given == {"SENTRY_DSN": dsns[service], own: dsns[service]}, service


def test_without_a_dsn_a_process_gets_none() -> None:
    env = Shop(ShopSettings()).environment("users")
    assert not [k for k in env if k.startswith("SENTRY_DSN")]
