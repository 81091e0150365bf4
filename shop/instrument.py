"""Sentry for one service, as the write-up sets it up: server_name, release, environment; and
structured logs (`enable_logs`), through which each service reports its business steps."""

import re
from typing import Any

import sentry_sdk
import sentry_sdk.logger
from sentry_sdk.integrations.redis import RedisIntegration
from sentry_sdk.types import Event, Hint, Log

from shop.settings import ShopSettings

# 13-19 digits, optionally grouped: anything shaped like a card number is masked, unless it is
# part of a longer token such as a UUID (an order ID may end in 16 digits joined by a dash).
CARD_LIKE = re.compile(r"(?<![\w-])(?:\d[ -]?){9,15}(\d{4})(?![\w-])")


def mask_cards(value: Any) -> Any:
    """Every card-like number in strings of `value`, recursively, with all but 4 digits hidden."""
    if isinstance(value, str):
        return CARD_LIKE.sub(lambda m: "*" * 8 + m.group(1), value)
    if isinstance(value, dict):
        return {k: mask_cards(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_cards(v) for v in value]
    return value


def _before_send(event: Event, _hint: Hint) -> Event:
    masked: Event = mask_cards(event)
    return masked


def _before_breadcrumb(crumb: dict[str, Any], _hint: Hint) -> dict[str, Any]:
    masked: dict[str, Any] = mask_cards(crumb)
    return masked


def _before_send_log(entry: Log, _hint: Hint) -> Log:
    masked: Log = mask_cards(entry)
    return masked


def log_step(template: str, order_id: str, *, warn: bool = False, **parameters: Any) -> None:
    """One business step of an order as a Sentry log entry, the way a current service logs:
    a template with its parameters (the SDK sends both), and the order id as an attribute of
    its own as well, so the backend finds the order by its usual key name rather than by
    `sentry.message.parameter.order_id`."""
    log = sentry_sdk.logger.warning if warn else sentry_sdk.logger.info
    log(template, order_id=order_id, attributes={"order_id": order_id}, **parameters)


def init_sentry(service: str, settings: ShopSettings) -> None:
    """Each service process calls this once, with its own DSN (its own project); without one
    the SDK stays disabled."""
    sentry_sdk.init(
        dsn=settings.dsn_of(service),
        server_name=service,
        release=settings.release,
        environment=settings.sentry_environment,
        traces_sample_rate=settings.traces_sample_rate,
        integrations=[RedisIntegration()],
        before_send=_before_send,
        before_send_transaction=_before_send,
        before_breadcrumb=_before_breadcrumb,
        # Structured logs: each service's business steps (`log_step`), joined to their order.
        enable_logs=True,
        before_send_log=_before_send_log,
        # The serverless-style flush after each message bounds the wait for delivery.
        shutdown_timeout=3,
        # The default queue (100) overflows, and drops events, when the backend answers slower
        # than the services produce (a busy machine, traffic bursts).
        transport_queue_size=10_000,
    )
