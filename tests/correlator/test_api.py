"""The orders, services and releases endpoints and the release report
(docs/reference.md#http-read-api-dashboard-role)."""

import uuid
from datetime import timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from correlator.worker import Correlator
from sentrail.cli import app as cli
from store.engine import Database
from tests.collector.envelopes import envelope_bytes
from tests.conftest import ProjectKey
from tests.correlator.shop_events import BASE, Shop

OUTCOMES = ["shipping", "payment-error", "shipment-requested"]


def shop_day(shop: Shop) -> dict[str, dict[str, str]]:
    """r1: 4 completed, 1 failed, 1 stalled; r2 (a bad release): 1, 4, 1."""
    plan = {"r1": ["shipping"] * 4 + ["payment-error", "shipment-requested"]}
    plan["r2"] = ["shipping"] + ["payment-error"] * 4 + ["shipment-requested"]
    orders: dict[str, dict[str, str]] = {}
    t = 0.0
    for release, outcomes in plan.items():
        shop.release = release
        for upto in outcomes:
            order, trace = str(uuid.uuid4()), uuid.uuid4().hex
            shop.checkout(order, trace, upto=upto, t0=t)
            orders[order] = {"release": release, "upto": upto, "trace": trace}
            t += 10
    return orders


@pytest.fixture
def orders(shop: Shop, database: Database) -> dict[str, dict[str, str]]:
    found = shop_day(shop)
    Correlator(database).run_until_idle()
    return found


def get(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_orders_filter_by_status_service_and_release(
    client: TestClient, orders: dict[str, dict[str, str]]
) -> None:
    everything = get(client, "/api/v1/orders", limit=500)["orders"]
    assert {o["order_id"] for o in everything} == set(orders)
    failed_r2 = get(client, "/api/v1/orders", status="failed", release="r2")["orders"]
    assert len(failed_r2) == 4
    assert all(o["failed_service"] == "payment" and o["releases"] == ["r2"] for o in failed_r2)
    shipped = get(client, "/api/v1/orders", service="shipping")["orders"]
    assert {o["order_id"] for o in shipped} == {
        k for k, v in orders.items() if v["upto"] == "shipping"
    }
    assert get(client, "/api/v1/orders", environment="nowhere")["orders"] == []
    later = (BASE + timedelta(seconds=85)).isoformat()
    assert len(get(client, "/api/v1/orders", since=later)["orders"]) == 3
    bad = client.get("/api/v1/orders", params={"status": "lost"})
    assert bad.status_code == 422


def test_orders_carry_their_flow_and_filter_by_it(
    client: TestClient, orders: dict[str, dict[str, str]]
) -> None:
    everything = get(client, "/api/v1/orders", limit=500)["orders"]
    assert {o["flow"] for o in everything} == {"checkout"}
    assert len(get(client, "/api/v1/orders", flow="checkout", limit=500)["orders"]) == len(orders)
    assert get(client, "/api/v1/orders", flow="refund")["orders"] == []
    assert get(client, "/api/v1/orders", flow="refund", service="payment")["orders"] == []
    order = next(iter(orders))
    assert get(client, f"/api/v1/orders/{order}")["flow"] == "checkout"


def test_flows_list_the_declared_checkout_hops(client: TestClient) -> None:
    [checkout] = get(client, "/api/v1/flows")["flows"]
    assert (checkout["name"], checkout["key"], checkout["entry"]) == (
        "checkout",
        "order_id",
        "frontend",
    )
    assert (checkout["declared"], checkout["learned"], checkout["learning"]) == (True, False, None)
    assert [h["service"] for h in checkout["hops"]] == [
        "frontend", "order", "payment", "order", "shipping",
    ]  # fmt: skip


def test_orders_page_through_without_gaps_or_repeats(
    client: TestClient, orders: dict[str, dict[str, str]]
) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        page = get(client, "/api/v1/orders", limit=5, **({"cursor": cursor} if cursor else {}))
        seen += [o["order_id"] for o in page["orders"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(orders) and len(seen) == len(set(seen))


def test_order_detail_has_hops_and_events_oldest_first(
    client: TestClient, orders: dict[str, dict[str, str]]
) -> None:
    order = next(k for k, v in orders.items() if v["upto"] == "shipment-requested")
    detail = get(client, f"/api/v1/orders/{order}")
    assert detail["status"] == "stalled"
    assert detail["failed_service"] == "shipping"
    assert detail["missing_hops"] == ["shipping"]
    assert detail["trace_ids"] == [orders[order]["trace"]]
    assert [h["status"] for h in detail["hops"]] == ["ok", "ok", "ok", "ok", "missing"]
    stamps = [e["timestamp"] for e in detail["events"]]
    assert stamps == sorted(stamps) and len(stamps) == 4
    assert {e["service"] for e in detail["events"]} == {"frontend", "order", "payment"}
    assert set(detail) >= {
        "order_id", "services", "impacted_services", "releases", "environments", "hops",
    }  # fmt: skip
    assert detail["status_reason"].startswith("nothing happened for more than 300 s after ")
    assert detail["status_reason"].endswith(
        "the next expected hop, 'sent and delivered' at shipping, never came"
    )
    missing = client.get(f"/api/v1/orders/{uuid.uuid4()}")
    assert missing.status_code == 404 and "no order" in missing.json()["detail"]


def test_a_time_without_an_offset_is_utc(
    client: TestClient, orders: dict[str, dict[str, str]]
) -> None:
    """`since=2026-11-27T10:00:00` (no offset) is read as UTC, as Sentry reads one: the same
    answer as with `Z`, never a 500."""
    start = BASE.replace(tzinfo=None).isoformat()
    naive = get(client, "/api/v1/orders", since=start, limit=500)["orders"]
    aware = get(client, "/api/v1/orders", since=start + "Z", limit=500)["orders"]
    assert naive == aware and len(naive) == len(orders)
    assert get(client, "/api/v1/services", since=start)["services"]


def test_every_status_says_why(client: TestClient, orders: dict[str, dict[str, str]]) -> None:
    failed = next(k for k, v in orders.items() if v["upto"] == "payment-error")
    reason = get(client, f"/api/v1/orders/{failed}")["status_reason"]
    assert reason.startswith("an error in payment, ") and "the first that no other" in reason
    done = next(k for k, v in orders.items() if v["upto"] == "shipping")
    assert get(client, f"/api/v1/orders/{done}")["status_reason"] == (
        "its last expected hop, 'sent and delivered' at shipping, happened"
    )


def test_services_count_events_errors_and_impacted_orders(
    client: TestClient, orders: dict[str, dict[str, str]]
) -> None:
    services = {s["service"]: s for s in get(client, "/api/v1/services")["services"]}
    assert services["payment"]["errors"] == 5
    assert services["payment"]["failed_orders"] == 5
    assert services["shipping"]["stalled_orders"] == 2
    assert services["payment"]["last_error_at"] is not None
    assert services["frontend"]["events"] == len(orders)
    r2 = {s["service"]: s for s in get(client, "/api/v1/services", release="r2")["services"]}
    assert r2["payment"]["failed_orders"] == 4 and r2["shipping"]["stalled_orders"] == 1


def test_release_health_compares_with_the_previous_release(
    client: TestClient, shop: Shop, project: ProjectKey, orders: dict[str, dict[str, str]]
) -> None:
    sessions = [
        {
            "sid": uuid.uuid4().hex,
            "did": f"user-{i % 4}",
            "init": True,
            "started": (BASE + timedelta(seconds=70)).isoformat(),
            "status": "crashed" if i < 2 else "exited",
            "attrs": {"release": "r2", "environment": "test"},
        }
        for i in range(8)
    ]
    for session in sessions:
        body = envelope_bytes(sessions=[session])
        assert client.post(f"/api/{project.id}/envelope/", content=body, headers=project.auth)
    listed = {r["version"]: r for r in get(client, "/api/v1/releases")["releases"]}
    assert list(listed) == ["r2", "r1"]
    assert (listed["r1"]["orders"], listed["r1"]["failed_orders"]) == (6, 1)
    assert listed["r2"]["crash_free_sessions"] == 0.75
    r2 = get(client, "/api/v1/releases/r2")
    assert r2["orders"] == {
        "total": 6, "completed": 1, "failed": 4, "stalled": 1, "in_progress": 0,
    }  # fmt: skip
    assert r2["order_success_rate"] == round(1 / 6, 6)
    assert r2["sessions"] == {"total": 8, "crashed": 2, "errored": 0, "abnormal": 0, "unhandled": 0}
    assert r2["crash_free_sessions"] == 0.75
    assert r2["crash_free_users"] == 0.5  # users 0 and 1 crashed, of 4
    assert r2["previous_release"] == "r1"
    assert r2["delta"]["order_success_rate"] == round(1 / 6 - 4 / 6, 6)
    assert r2["delta"]["failed_orders"] == 3
    assert r2["environments"] == ["test"]
    payment = next(s for s in r2["services"] if s["service"] == "payment")
    assert (payment["errors"], payment["failed_orders"]) == (4, 4)
    # The failure messages group into one issue (the order ID is a parameter), first seen in
    # r1: it is new there, not in r2.
    assert r2["new_issues"] == []
    r1 = get(client, "/api/v1/releases/r1")
    assert r1["previous_release"] is None and r1["delta"] == {}
    assert any("validation failed" in i["title"] for i in r1["new_issues"])
    assert client.get("/api/v1/releases/r9").status_code == 404


@pytest.mark.parametrize("fmt", ["json", "csv", "md", "html"])
def test_release_report_in_every_format(
    fmt: str,
    database_url: str,
    orders: dict[str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    monkeypatch.setenv("SENTRAIL_DATABASE_URL", database_url)
    target = tmp_path / f"r2.{fmt}"
    result = CliRunner().invoke(
        cli, ["report", "release", "r2", "--format", fmt, "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    text = target.read_text()
    if fmt == "json":
        data = orjson.loads(text)
        assert data["orders"]["failed"] == 4 and data["previous_release"] == "r1"
    elif fmt == "csv":
        header, totals, *services = text.splitlines()
        assert header.startswith("release,service,events,errors")
        assert totals.startswith("r2,(release),") and len(services) == 4
    elif fmt == "md":
        assert "# Release r2" in text and "| Order success rate | 16.67% | -50.00 pt |" in text
    else:
        assert "<h1>Release r2</h1>" in text and "payment" in text
    missing = CliRunner().invoke(cli, ["report", "release", "nope"])
    assert missing.exit_code == 1 and "no release nope" in missing.output


def test_release_gate_fails_the_bad_release_and_passes_the_good_one(
    client: TestClient,
    database_url: str,
    orders: dict[str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """r2 drops the order success rate from 66.67 % to 16.67 %: the gate fails it (exit 1);
    r2 against itself passes (exit 0); too few orders, or no baseline, is exit 2."""
    monkeypatch.setenv("SENTRAIL_DATABASE_URL", database_url)
    gate = ["release", "gate", "--min-orders", "6"]
    bad = CliRunner().invoke(cli, [*gate, "r2", "--format", "json"])
    assert bad.exit_code == 1, bad.output
    verdict = orjson.loads(bad.output)
    assert (verdict["verdict"], verdict["baseline"]) == ("fail", "r1")
    (success,) = [c for c in verdict["checks"] if c["name"] == "order_success_rate"]
    assert (success["value"], success["baseline"], success["passed"]) == (0.166667, 0.666667, False)
    assert verdict["reasons"] == [success["reason"]] and "fell by 50.00%" in success["reason"]

    same = CliRunner().invoke(cli, [*gate, "r1", "--baseline", "r1"])
    assert same.exit_code == 0 and same.output.startswith("PASS: release r1 against r1")
    loose = CliRunner().invoke(cli, [*gate, "r2", "--max-success-drop", "0.6", "-f", "md"])
    assert loose.exit_code == 0 and loose.output.startswith("## PASS")
    first = CliRunner().invoke(cli, [*gate, "r1"])
    assert first.exit_code == 2 and "no earlier release" in first.output
    few = CliRunner().invoke(cli, ["release", "gate", "r2", "--min-orders", "7"])
    assert few.exit_code == 2 and "r2 has 6 finished orders, fewer than 7" in few.output
    assert CliRunner().invoke(cli, ["release", "gate", "nope"]).exit_code == 2

    api = get(client, "/api/v1/releases/r2/gate", min_orders=6)
    assert api == verdict
    new_issues = get(client, "/api/v1/releases/r2/gate", min_orders=6, no_new_issues=True)
    assert new_issues["checks"][-1]["name"] == "new_issues"
    assert client.get("/api/v1/releases/nope/gate").status_code == 404
    assert client.get("/api/v1/releases/r2/gate", params={"min_orders": -1}).status_code == 422


def test_an_order_id_with_slashes_has_its_api_answer_and_its_page(
    shop: Shop, database: Database, client: TestClient
) -> None:
    """Business keys are anyone's strings: `ORD/2026/0001` is listed, so it must open."""
    order, trace = "ORD/2026/0001", uuid.uuid4().hex
    shop.checkout(order, trace)
    Correlator(database).run_until_idle()
    assert get(client, "/api/v1/orders/ORD/2026/0001")["order_id"] == order
    assert get(client, "/api/v1/orders/ORD%2F2026%2F0001")["order_id"] == order
    page = client.get("/orders/ORD/2026/0001")
    assert page.status_code == 200 and trace in page.text


def test_a_release_of_events_without_an_environment_has_its_report(
    shop: Shop, database: Database, client: TestClient
) -> None:
    """An OpenTelemetry service often names no `deployment.environment`: its release is
    listed, so its report must answer too."""
    shop.release = "shop@2.0.1"
    lone = shop.message("frontend", 0, uuid.uuid4().hex, "started")
    lone.pop("environment")
    shop.send(lone)
    Correlator(database).run_until_idle()
    assert "shop@2.0.1" in [r["version"] for r in get(client, "/api/v1/releases")["releases"]]
    assert get(client, "/api/v1/releases/shop@2.0.1")["version"] == "shop@2.0.1"


def test_the_trace_api_returns_a_capped_number_of_events_oldest_first(
    shop: Shop, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trace is whatever its senders made it: the API answers its first events, never all."""
    monkeypatch.setattr("reads.events.TRACE_API_EVENT_LIMIT", 2)
    trace = uuid.uuid4().hex
    shop.send(*(shop.message("frontend", t, trace, f"step {t}") for t in (3, 1, 2)))
    found = get(client, f"/api/v1/traces/{trace}")["events"]
    assert [e["message"] for e in found] == ["step 1", "step 2"]
