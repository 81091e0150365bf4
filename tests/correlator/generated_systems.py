"""Systems sentrail has never seen, generated from a seed: other service names, other key
fields, keys carried in different places by different services, and the habits of real SDKs
that make correlation hard (stale breadcrumbs, events linked only by trace or by a secondary
key on another trace, events arriving out of order, noise that belongs to no order).

Every generated event knows the order it truly belongs to, so a test can measure the
correlator's precision and recall instead of checking a few hand-picked cases.
"""

import random
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tests.collector.envelopes import event

WORDS = [
    "ledger", "atlas", "quill", "harbor", "beacon", "orbit", "mosaic", "tundra", "canyon",
    "falcon", "ember", "delta", "prism", "summit", "willow", "cobalt", "raven", "meadow",
]  # fmt: skip
KEY_FIELDS = ["bookingRef", "ticket_no", "caseId", "claim-number", "shipmentKey", "rx_id"]
# Where a service puts the order's key. "trace": nowhere, the event shares the order's trace;
# "link": nowhere, the event is on a trace of its own and carries only the secondary key.
CARRIERS = ["tag", "extra", "context", "message", "breadcrumb", "stale_tag", "trace", "link"]
STALL_AFTER = 3600.0
SHARED_TRACE = 0.4  # the chance that an order is sent on the trace of the order before


@dataclass(frozen=True)
class SentEvent:
    payload: dict[str, Any]
    order: str | None  # the order it truly belongs to; None for noise


@dataclass(frozen=True)
class Order:
    id: str
    outcome: str  # completed | failed | cut
    stop: int  # index of the service that failed, or of the first service never reached
    last_at: datetime


@dataclass
class GeneratedSystem:
    seed: int
    base: datetime
    rng: random.Random = field(init=False)
    services: list[str] = field(init=False)
    carriers: list[str] = field(init=False)
    key_field: str = field(init=False)
    link_field: str = field(init=False)
    # Each breadcrumb-keeping service's buffer: it lives as long as the worker process.
    buffers: dict[str, list[dict[str, Any]]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        count = self.rng.randint(4, 7)
        self.services = [f"{word}-svc" for word in self.rng.sample(WORDS, count)]
        # The entry service tags the key; the second states it somehow (so that the secondary
        # key it also carries is known to belong to the order) and carries the secondary key,
        # through which a "link" service on a trace of its own is found.
        self.carriers = ["tag"] + [
            self.rng.choice(CARRIERS[:-2] if i == 1 else CARRIERS) for i in range(1, count)
        ]
        self.key_field = self.rng.choice(KEY_FIELDS)
        self.link_field = f"{self.rng.choice(WORDS)}Ref"

    # -- the rules a user of this system would write ---------------------------------

    def rules_toml(self) -> str:
        hops = ", ".join(f'{{ service = "{s}", name = "{s} step" }}' for s in self.services)
        return f"""
[[keys]]
name = "order_key"
tags = ["{self.key_field}"]
extra = ["{self.key_field}"]
contexts = ["work.{self.key_field}"]
breadcrumb_data = ["{self.key_field}"]
patterns = ['\\b{re.escape(self.key_field)}=(?P<value>[A-Z]{{3}}-[0-9]{{6}})\\b']

[[keys]]
name = "secondary"
tags = ["{self.link_field}"]

[journey]
key = "order_key"
stall_after = {STALL_AFTER}
hops = [{hops}]
"""

    # -- traffic ---------------------------------------------------------------------------

    def traffic(self, orders: int) -> tuple[list[Order], list[SentEvent]]:
        """`orders` orders and some noise, in the order they arrive (shuffled). Some orders
        share the trace of the order before (a client that keeps its scope's trace across
        orders, as an SDK without a transaction does)."""
        made: list[Order] = []
        sent: list[SentEvent] = []
        trace = uuid.uuid4().hex
        # A generator of its own: the rest of the system's traffic is the seed's as before.
        sharing = random.Random(self.seed)
        for n in range(orders):
            if sharing.random() >= SHARED_TRACE:
                trace = uuid.uuid4().hex
            order, events = self._order(n, trace)
            made.append(order)
            sent += events
        sent += [SentEvent(self._noise(), None) for _ in range(max(1, orders // 5))]
        self.rng.shuffle(sent)
        return made, sent

    def _order(self, n: int, trace: str) -> tuple[Order, list[SentEvent]]:
        order_id = f"{self.rng.choice(['ORD', 'BKG', 'CAS'])}-{n:06d}"
        link_trace = uuid.uuid4().hex
        caller: str | None = None  # the span of the step that called this one
        secondary = f"S{uuid.uuid4().hex[:12]}"
        outcome = self.rng.choices(["completed", "failed", "cut"], [6, 2, 2])[0]
        stop = self.rng.randint(1, len(self.services) - 1) if outcome != "completed" else 0
        t0 = self.rng.uniform(0, 600)
        events: list[SentEvent] = []
        reached = len(self.services) if outcome == "completed" else stop + (outcome == "failed")
        for i in range(reached):
            at = self.base + timedelta(seconds=t0 + i)
            on_trace = link_trace if self.carriers[i] == "link" else trace
            failing = outcome == "failed" and i == stop
            span = uuid.uuid4().hex[:16]
            spans = (span, caller if on_trace == trace else None)
            for payload in self._hop(i, order_id, secondary, (on_trace, *spans), at, failing):
                events.append(SentEvent(payload, order_id))
            caller = span if on_trace == trace else caller
        last = self.base + timedelta(seconds=t0 + reached)
        return Order(order_id, outcome, stop, last), events

    def _hop(
        self,
        i: int,
        order: str,
        secondary: str,
        trace: tuple[str, str, str | None],
        at: datetime,
        failing: bool,
    ) -> Iterator[dict[str, Any]]:
        """The transaction of this service's step and, when it failed or logged, an event.
        `trace`: trace id, the step's span id and the span of the step that called it."""
        service = self.services[i]
        own = self._carried(self.carriers[i], order, secondary, i)
        trace_id, span_id, parent = trace
        contexts = {
            **own["contexts"],
            "trace": {"trace_id": trace_id, "span_id": span_id, "parent_span_id": parent},
        }
        crumbs = self._breadcrumbs(service, self.carriers[i], order)
        yield event(
            type="transaction",
            transaction=own["transaction"] or f"{service} handle",
            server_name=service,
            level="info",
            start_timestamp=at.isoformat(),
            timestamp=(at + timedelta(milliseconds=200)).isoformat(),
            contexts=contexts,
            tags=own["tags"],
            extra=own["extra"],
            spans=[],
        )
        if failing or self.rng.random() < 0.3:
            yield event(
                server_name=service,
                timestamp=(at + timedelta(milliseconds=150)).isoformat(),
                level="error" if failing else "warning",
                message=own["message"] or f"{service} did its part",
                breadcrumbs={"values": crumbs},
                contexts=contexts,
                tags=own["tags"],
                extra=own["extra"],
            )

    def _carried(self, carrier: str, order: str, secondary: str, i: int) -> dict[str, Any]:
        """The fields through which this service states the key (and the secondary key)."""
        own: dict[str, Any] = {
            "tags": {}, "extra": {}, "contexts": {}, "message": None, "transaction": None
        }  # fmt: skip
        if i == 1 or carrier == "link":
            own["tags"][self.link_field] = secondary
        if carrier in ("tag", "stale_tag"):
            own["tags"][self.key_field] = order
        elif carrier == "extra":
            own["extra"][self.key_field] = order
        elif carrier == "context":
            own["contexts"]["work"] = {self.key_field: order}
        elif carrier == "message":
            own["message"] = f"handled {self.key_field}={order} in {self.services[i]}"
            own["transaction"] = f"{self.services[i]} {self.key_field}={order}"
        return own

    def _breadcrumbs(self, service: str, carrier: str, order: str) -> list[dict[str, Any]]:
        """The worker's breadcrumb buffer as its next event sends it. A "breadcrumb" service
        leaves a crumb for the order it is working on; a "stale_tag" one tags its events but
        its buffer still holds the crumbs of the orders before."""
        buffer = self.buffers.setdefault(service, [])
        crumb = {"category": "work", "data": {self.key_field: order}}
        if carrier == "breadcrumb":
            buffer.append(crumb)
        sent = list(buffer[-100:])
        if carrier == "stale_tag":
            buffer.append(crumb)  # after sending: the next order's events carry it, stale
        return sent

    def _noise(self) -> dict[str, Any]:
        service = self.rng.choice(self.services)
        return event(
            server_name=service,
            level="warning",
            message=f"cache miss in {service}",
            contexts={"trace": {"trace_id": uuid.uuid4().hex, "span_id": "b" * 16}},
        )
