"""Events shaped like the ACME services send them, posted through the real ingest path."""

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.collector.envelopes import envelope_bytes, event
from tests.conftest import ProjectKey

BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)


def at(seconds: float) -> str:
    return (BASE + timedelta(seconds=seconds)).isoformat()


class Shop:
    """Sends events the way the ACME services do, one order at a time."""

    def __init__(
        self,
        client: httpx.Client,
        project: ProjectKey,
        projects: Mapping[str, ProjectKey] | None = None,
    ) -> None:
        """`client`: a TestClient of the app, or an httpx client of a running server.
        `projects`: each service's own project (as real teams have them), by server name;
        a service not in it sends to `project`."""
        self.client = client
        self.project = project
        self.projects = dict(projects or {})
        self.release = "r1"

    def send(self, *events: dict[str, Any]) -> None:
        for sent in events:
            sent["release"] = self.release
            project = self.projects.get(sent.get("server_name", ""), self.project)
            response = self.client.post(
                f"/api/{project.id}/envelope/",
                content=envelope_bytes(sent),
                headers=project.auth,
            )
            assert response.status_code == 200, response.text

    @staticmethod
    def message(
        service: str, seconds: float, trace: str, text: str, level: str = "info", **fields: Any
    ) -> dict[str, Any]:
        return event(
            server_name=service,
            timestamp=at(seconds),
            level=level,
            message=text,
            contexts={"trace": {"trace_id": trace, "span_id": uuid.uuid4().hex[:16]}},
            **fields,
        )

    @staticmethod
    def transaction(
        service: str, seconds: float, trace: str, order: str | None, duration: float = 0.05
    ) -> dict[str, Any]:
        return event(
            type="transaction",
            transaction=f"{service} handler",
            server_name=service,
            level="info",
            start_timestamp=at(seconds),
            timestamp=at(seconds + duration),
            tags={"order_id": order} if order else {},
            contexts={"trace": {"trace_id": trace, "span_id": uuid.uuid4().hex[:16], "op": "http"}},
            spans=[],
        )

    def checkout(self, order: str, trace: str, *, upto: str = "shipping", t0: float = 0) -> None:
        """A checkout through every hop up to `upto` (payment fails when upto='payment-error')."""
        tag = {"order_id": order}
        self.send(
            self.transaction("frontend", t0, trace, order, duration=0.5),
            self.transaction("order", t0 + 0.1, trace, order),
        )
        if upto == "order":
            return
        if upto == "payment-error":
            self.send(
                self.message(
                    "payment",
                    t0 + 1,
                    trace,
                    f"validation failed for order [{order}] : creditcard has expired",
                    level="error",
                    tags=tag,
                )
            )
            return
        self.send(
            self.message(
                "payment", t0 + 1, trace, f"validation successful for order [{order}]", tags=tag
            ),
            self.message(
                "order", t0 + 2, trace, f"shipment successfully requested for order [{order}]"
            ),
        )
        if upto == "shipment-requested":
            return
        self.send(self.message("shipping", t0 + 3, trace, f"order {order} successfully delivered"))
