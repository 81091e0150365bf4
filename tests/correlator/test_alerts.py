"""The alert evaluator and the delivery outbox, in process with an injected clock, against real
loopback receivers: fired once per rule and group, resolved when the condition clears, one
evaluator at a time, signed webhooks, retries then the dead-letter list, slow targets apart."""

import email
import email.policy
import logging
import socketserver
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import orjson
import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, update

from bench.server import free_port
from correlator.alerts import AlertEvaluator
from correlator.alerts_delivery import AlertSender, AlertThreads, signature_headers, slack_text
from correlator.worker import Correlator
from reads.gate import GateLimits, release_gate
from rules.alerts import AlertRules, AlertSettings, Rule, Target, default_rules
from rules.config import current_rules
from sentrail.alert_receiver import AlertReceiver
from sentrail.app import create_app
from store.clock import utcnow
from store.engine import Database
from store.models import Alert, AlertDelivery, CorrelatorState, Issue, Journey, Monitor
from store.settings import DatabaseSettings
from tests.conftest import ProjectKey
from tests.correlator.shop_events import Shop

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
SECRET = "test-secret"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def receiver() -> Iterator[AlertReceiver]:
    running = AlertReceiver(secret=SECRET).start()
    yield running
    running.stop()


def journey(database: Database, key: str, status: str, **fields: Any) -> None:
    row = {
        "flow": "checkout",
        "scope": "default",
        "key": key,
        "status": status,
        "failed_service": None,
        "first_seen_at": T0 - timedelta(minutes=5),
        "last_seen_at": T0 - timedelta(minutes=1),
        "event_count": 3,
        "error_count": 0,
        "services": ["frontend", "order", "payment"],
        "impacted_services": [],
        "missing_hops": [],
        "releases": ["1.0"],
        "environments": ["prod"],
        "trace_ids": [],
        "hops": [],
        "updated_at": T0,
        **fields,
    }
    with database.writing() as connection:
        connection.execute(insert(Journey), [row])
        connection.commit()


def claimed_passes(database: Database) -> int:
    with database.sessions() as session:
        return int(
            session.scalar(select(CorrelatorState.passes).where(CorrelatorState.name == "alerts"))
            or 0
        )


def stall_rules(url: str, **rule: Any) -> AlertRules:
    return AlertRules(
        targets=[Target(name="hook", kind="webhook", url=url, secret=SECRET)],
        rules=[Rule(name="stalls", condition="orders_stalled", window=600, **rule)],
    )


def settings(**fields: Any) -> AlertSettings:
    return AlertSettings(**{"retry_backoff": 1.0, "timeout": 5.0, **fields})


def test_a_stall_fires_once_per_group_and_resolves_when_it_clears(
    database: Database, receiver: AlertReceiver
) -> None:
    clock = Clock()
    rules = stall_rules(receiver.url)
    evaluator = AlertEvaluator(database, rules, settings(), "http://dash.test", clock)
    sender = AlertSender(database, rules, settings(), clock)
    for key in ("o-1", "o-2"):
        journey(database, key, "stalled", missing_hops=["shipping"])
    journey(database, "o-3", "completed")
    assert evaluator.run_once().fired == 1
    passes = claimed_passes(database)
    assert evaluator.run_once().fired == 0  # still stalled: nothing new…
    assert claimed_passes(database) == passes  # …and nothing written
    assert sender.run_once() == 1
    journey(database, "o-4", "stalled", missing_hops=["shipping"])
    assert evaluator.run_once().fired == 0  # one more in the same group: notified once…
    with database.sessions() as session:
        assert session.scalars(select(Alert.value)).all() == [3]  # …shown as it is now
    assert sender.run_once() == 0
    (fired,) = receiver.notices()
    assert fired.valid and fired.body["type"] == "alert.fired"
    alert = fired.body["alert"]
    assert alert["group_key"] == "flow=checkout service=shipping"
    assert (
        alert["value"] == 2 and "2 checkout orders stalled waiting for shipping" in alert["summary"]
    )
    assert alert["url"] == "http://dash.test/orders?status=stalled&flow=checkout&service=shipping"
    assert fired.headers["sentrail-delivery"] == fired.body["delivery_id"]
    with database.writing() as connection:
        connection.execute(update(Journey).values(status="completed", missing_hops=[]))
        connection.commit()
    clock.now += timedelta(seconds=10)
    assert evaluator.run_once().resolved == 1
    assert sender.run_once() == 1
    resolved = receiver.notices()[-1]
    assert resolved.body["type"] == "alert.resolved" and resolved.valid
    assert resolved.body["alert"]["id"] == alert["id"]
    assert resolved.body["alert"]["resolved_at"] == clock.now.isoformat()
    sender.close()


def test_a_share_needs_enough_orders_and_reaches_its_threshold(database: Database) -> None:
    rules = stall_rules("http://127.0.0.1:9/", measure="share", threshold=0.5, min_orders=4)
    evaluator = AlertEvaluator(database, rules, settings(), clock=Clock())
    journey(database, "o-1", "stalled", missing_hops=["shipping"])
    journey(database, "o-2", "completed")
    assert evaluator.run_once().fired == 0  # 1 of 2: too few orders to judge
    journey(database, "o-3", "stalled", missing_hops=["shipping"])
    journey(database, "o-4", "completed")
    journey(database, "o-5", "completed")
    assert evaluator.run_once().fired == 0  # 2 of 5 = 40 %
    journey(database, "o-6", "stalled", missing_hops=["shipping"])
    assert evaluator.run_once().fired == 1  # 3 of 6


def test_several_evaluators_at_once_fire_one_alert(database: Database) -> None:
    rules = stall_rules("http://127.0.0.1:9/")
    journey(database, "o-1", "stalled", missing_hops=["shipping"])
    evaluators = [AlertEvaluator(database, rules, settings(), clock=Clock()) for _ in range(4)]
    start = threading.Barrier(len(evaluators))
    results: list[Any] = []

    def evaluate(evaluator: AlertEvaluator) -> None:
        start.wait()
        results.append(evaluator.run_once())

    threads = [threading.Thread(target=evaluate, args=(e,)) for e in evaluators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(r.fired for r in results) == 1, results
    with database.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 1
        assert session.scalar(select(func.count()).select_from(AlertDelivery)) == 1


def test_a_failing_receiver_is_retried_with_backoff_then_dead_lettered_and_listed(
    database_url: str, database: Database, client: TestClient
) -> None:
    failing = AlertReceiver(secret=SECRET, answer=lambda _path: 503).start()
    clock = Clock()
    rules = stall_rules(failing.url)
    config = settings(max_attempts=3, retry_backoff=2.0)
    evaluator = AlertEvaluator(database, rules, config, clock=clock)
    sender = AlertSender(database, rules, config, clock)
    journey(database, "o-1", "stalled", missing_hops=["shipping"])
    evaluator.run_once()
    try:
        assert sender.run_once() == 1
        assert sender.run_once() == 0  # not due before its backoff
        clock.now += timedelta(seconds=2)  # 2 s after the first attempt
        assert sender.run_once() == 1
        clock.now += timedelta(seconds=3)
        assert sender.run_once() == 0  # the second wait is 4 s
        clock.now += timedelta(seconds=1)
        assert sender.run_once() == 1
        clock.now += timedelta(hours=1)
        assert sender.run_once() == 0  # dead: never again
    finally:
        failing.stop()
        sender.close()
    assert len(failing.received) == 3 and all(r.valid for r in failing.received)
    assert len({r.headers["sentrail-delivery"] for r in failing.received}) == 1  # one delivery
    listed = client.get("/api/v1/alerts").json()
    assert listed["firing"] == 1 and listed["dead_letters"] == 1
    (delivery,) = listed["alerts"][0]["deliveries"]
    assert delivery["status"] == "dead" and delivery["attempts"] == 3
    assert delivery["last_status_code"] == 503 and delivery["next_attempt_at"] is None
    dead = client.get("/api/v1/alerts/deliveries", params={"status": "dead"}).json()
    assert [d["delivery_id"] for d in dead["deliveries"]] == [delivery["delivery_id"]]
    page = client.get("/alerts")
    assert page.status_code == 200
    assert "stalls" in page.text and "status-dead" in page.text and "HTTP 503" in page.text
    assert '<a href="/alerts">Alerts</a>' in page.text  # in the navigation of every page


def test_a_slow_target_does_not_hold_the_evaluator(database: Database) -> None:
    slow = AlertReceiver(secret=SECRET, delay=3.0).start()
    rules = stall_rules(slow.url)
    # The thread evaluates once at start (the first stall fires), then not for a minute: the
    # second evaluation below is the test's own.
    threads = AlertThreads.build(database, rules, settings(interval=60), "http://dash.test")
    assert threads is not None
    # The threads run on the real clock: the order stalled just now.
    journey(database, "o-1", "stalled", missing_hops=["shipping"], last_seen_at=utcnow())
    threads.start()
    try:
        deadline = time.monotonic() + 10
        while not slow.arrived and time.monotonic() < deadline:
            time.sleep(0.05)  # polling until the sender is inside the slow request, bounded
        assert slow.arrived == 1 and not slow.received  # the sender waits on the target
        started = time.perf_counter()
        journey(database, "o-2", "stalled", missing_hops=["payment"], last_seen_at=utcnow())
        result = threads.evaluator.run_once()  # another group: fires at once
        took = time.perf_counter() - started
        still_waiting = not slow.received
    finally:
        threads.stop()
        slow.stop()
    assert still_waiting, "the slow request ended before the evaluation: nothing was measured"
    assert result.fired == 1, result
    assert took < 1.0, f"an evaluation took {took:.2f} s beside a 3 s target"


def test_failed_orders_new_issues_and_missed_check_ins_fire(
    database: Database, project: ProjectKey
) -> None:
    journey(database, "o-1", "failed", failed_service="payment")
    journey(database, "o-2", "failed", failed_service="payment")
    with database.writing() as connection:
        connection.execute(
            insert(Issue),
            [
                {
                    "project_id": project.id,
                    "hash": "h1",
                    "title": "ValueError: card declined",
                    "culprit": "pay",
                    "type": "error",
                    "level": "error",
                    "first_seen_at": T0 - timedelta(minutes=2),
                    "last_seen_at": T0,
                    "first_release": "2.0",
                }
            ],
        )
        connection.execute(
            insert(Monitor),
            [
                {
                    "project_id": project.id,
                    "slug": "nightly-export",
                    "schedule_type": "crontab",
                    "schedule_value": "0 3 * * *",
                    "checkin_margin": 5,
                    "max_runtime": 30,
                    "timezone": "UTC",
                    "status": "missed",
                    "created_at": T0,
                    "updated_at": T0,
                }
            ],
        )
        connection.commit()
    rules = AlertRules(
        rules=[
            Rule(name="failed", condition="orders_failed", threshold=2),
            Rule(name="issues", condition="new_issue"),
            Rule(name="crons", condition="missed_checkin"),
        ]
    )
    AlertEvaluator(database, rules, settings(), "http://d", Clock()).run_once()
    with database.sessions() as session:
        fired = {a.rule: (a.group_key, a.url) for a in session.scalars(select(Alert))}
    assert fired == {
        "failed": ("flow=checkout service=payment", "http://d/orders?status=failed&flow=checkout&service=payment"),
        "issues": ("release=2.0", "http://d/issues/1"),
        "crons": (f"monitor=nightly-export project={project.id}", f"http://d/monitors/nightly-export?project={project.id}"),
    }  # fmt: skip


def test_an_unreachable_target_at_start_up_is_a_warning_not_a_stop(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    closed = free_port()  # nothing listens there
    alerting = AlertSettings(webhook_url=f"http://127.0.0.1:{closed}/hook", interval=0.2)
    app = create_app(DatabaseSettings(database_url=database_url), alert_settings=alerting)
    with caplog.at_level(logging.WARNING, "correlator.alerts_delivery"), TestClient(app) as http:
        deadline = time.monotonic() + 10
        while "unreachable" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)  # polling until the sender checked its targets, bounded
        assert http.get("/healthz").json() == {"status": "ok"}
    assert f"alert target webhook (127.0.0.1:{closed}) unreachable" in caplog.text


def test_a_250_character_release_fires_with_a_group_key_that_fits(
    database: Database, project: ProjectKey
) -> None:
    """A release name may be 250 characters: "release=" + it is longer than the column, and
    PostgreSQL refused the whole evaluation. Two long names with one prefix stay two groups."""
    long_a, long_b = "a" * 249 + "1", "a" * 249 + "2"
    with database.writing() as connection:
        connection.execute(
            insert(Issue),
            [
                {
                    "project_id": project.id,
                    "hash": f"h{i}",
                    "title": f"ValueError {i}",
                    "culprit": "pay",
                    "type": "error",
                    "level": "error",
                    "first_seen_at": T0 - timedelta(minutes=2),
                    "last_seen_at": T0,
                    "first_release": release,
                }
                for i, release in enumerate((long_a, long_b))
            ],
        )
        connection.commit()
    evaluator = AlertEvaluator(
        database, AlertRules(rules=[Rule(name="issues", condition="new_issue")]), clock=Clock()
    )
    assert evaluator.run_once().fired == 2
    assert evaluator.run_once().fired == 0  # the same groups: nothing again
    with database.sessions() as session:
        keys = session.scalars(select(Alert.group_key)).all()
    assert len(set(keys)) == 2 and all(len(k) <= 250 for k in keys), keys
    assert all(k.startswith("release=aaaa") for k in keys)


def test_the_default_release_rule_waits_for_as_many_orders_as_the_gate(
    shop: Shop, database: Database
) -> None:
    """r2's orders fail where r1's completed, but each has 12 finished orders: fewer than the
    gate's default minimum, so `sentrail release gate r2` says "not enough data" (exit 2) and
    the default rule must not call it a regression. With a minimum of 12 it is one."""
    t = 0.0
    for release, outcomes in (("r1", [10, 2]), ("r2", [2, 10])):
        shop.release = release
        completed, failed = outcomes
        for upto in ["shipping"] * completed + ["payment-error"] * failed:
            shop.checkout(str(uuid.uuid4()), uuid.uuid4().hex, upto=upto, t0=t)
            t += 10
    Correlator(database).run_until_idle()
    with database.sessions() as session:
        verdict = release_gate(session, "r2", GateLimits())
    assert verdict is not None and verdict["verdict"] == "insufficient_data", verdict
    defaults = default_rules("http://127.0.0.1:9/", None)
    loose = Rule(name="loose", condition="release_regression", window=86400, min_orders=12)
    rules = AlertRules(rules=[*defaults.rules, loose])
    assert AlertEvaluator(database, rules, settings()).run_once().fired == 1
    with database.sessions() as session:
        fired = session.execute(select(Alert.rule, Alert.group_key)).all()
    assert [tuple(row) for row in fired] == [("loose", "release=r2")]


def test_a_stall_fires_for_a_window_after_it_stalled_however_long_the_flow_waits(
    database: Database,
) -> None:
    """A stalled order's last event never moves: it stalled `stall_after` later. The alert
    holds while the stall is within the window (not the order's last event), and a window
    shorter than `stall_after` still sees the stall."""
    stall_after = timedelta(seconds=current_rules().flow("checkout").stall_after)
    last_seen = T0 - timedelta(minutes=1)
    journey(database, "o-1", "stalled", missing_hops=["shipping"], last_seen_at=last_seen)
    clock = Clock()
    evaluator = AlertEvaluator(
        database, stall_rules("http://127.0.0.1:9/"), settings(), clock=clock
    )
    assert evaluator.run_once().fired == 1
    # Stalled for longer than window - stall_after, still within the window: still firing.
    clock.now = last_seen + timedelta(seconds=600) + stall_after / 2
    assert evaluator.run_once().resolved == 0
    clock.now = last_seen + timedelta(seconds=600) + stall_after + timedelta(seconds=1)
    assert evaluator.run_once().resolved == 1  # the stall is older than the window
    short = stall_rules("http://127.0.0.1:9/")
    short.rules[0].window = stall_after.total_seconds() / 5
    clock.now = last_seen + stall_after + timedelta(seconds=1)  # stalled a second ago
    assert AlertEvaluator(database, short, settings(), clock=clock).run_once().fired == 1


class Inbox:
    """aiosmtpd's handler: keeps every message it is sent."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def issue_in(database: Database, project: ProjectKey, release: str) -> None:
    with database.writing() as connection:
        connection.execute(
            insert(Issue),
            [
                {
                    "project_id": project.id,
                    "hash": uuid.uuid4().hex,
                    "title": "ValueError: card declined",
                    "culprit": "pay",
                    "type": "error",
                    "level": "error",
                    "first_seen_at": T0 - timedelta(minutes=2),
                    "last_seen_at": T0,
                    "first_release": release,
                }
            ],
        )
        connection.commit()


def deliveries(database: Database) -> dict[str, Any]:
    with database.sessions() as session:
        return {d.target: d for d in session.scalars(select(AlertDelivery))}


def test_a_hostile_release_name_or_a_bad_target_fails_its_own_delivery_only(
    database: Database, project: ProjectKey, receiver: AlertReceiver, smtp: tuple[Inbox, int]
) -> None:
    """A release named with a line break reaches the email's Subject (the header is cleaned,
    no header is injected); a target whose URL httpx refuses fails alone: every delivery of
    the round is recorded, none stays pending to be sent again and again."""
    inbox, port = smtp
    issue_in(database, project, "2.0\r\nBcc: victim@example.com")
    rules = AlertRules(
        targets=[
            Target(name="mail", kind="email", host="127.0.0.1", port=port, to=["ops@acme.test"]),
            Target(name="broken", kind="webhook", url="http://[not-a-host/hook"),
            Target(name="hook", kind="webhook", url=receiver.url, secret=SECRET),
        ],
        rules=[Rule(name="issues", condition="new_issue")],
    )
    clock = Clock()
    assert AlertEvaluator(database, rules, settings(), clock=clock).run_once().fired == 1
    sender = AlertSender(database, rules, settings(), clock)
    try:
        assert sender.run_once() == 3
    finally:
        sender.close()
    sent = deliveries(database)
    assert sent["mail"].status == "delivered" and sent["hook"].status == "delivered"
    broken = sent["broken"]
    assert broken.status == "pending" and broken.attempts == 1 and broken.last_error
    assert broken.next_attempt_at > clock.now  # waits its backoff, not the lease
    (message,) = inbox.messages
    assert "\n" not in str(message["Subject"]) and "2.0  Bcc: victim" in str(message["Subject"])
    assert message["Bcc"] is None
    assert len(receiver.notices()) == 1


def test_a_delivery_out_of_attempts_is_dead_lettered_not_sent_again(
    database: Database, receiver: AlertReceiver
) -> None:
    """A sender that stopped during the last attempt left the row pending: once its claim
    lapses, the row is dead, not sent an attempt more."""
    clock = Clock()
    rules = stall_rules(receiver.url)
    config = settings(max_attempts=3)
    journey(database, "o-1", "stalled", missing_hops=["shipping"])
    assert AlertEvaluator(database, rules, config, clock=clock).run_once().fired == 1
    with database.writing() as connection:
        connection.execute(update(AlertDelivery).values(attempts=3, next_attempt_at=T0))
        connection.commit()
    sender = AlertSender(database, rules, config, clock)
    try:
        assert sender.run_once() == 0
    finally:
        sender.close()
    (delivery,) = deliveries(database).values()
    assert delivery.status == "dead" and delivery.attempts == 3 and delivery.last_error
    assert receiver.received == []


def test_a_round_claims_no_more_than_it_sends_at_once(
    database: Database, receiver: AlertReceiver
) -> None:
    clock = Clock()
    rules = AlertRules(
        targets=[
            Target(name=f"hook-{i}", kind="webhook", url=f"{receiver.url}/{i}", secret=SECRET)
            for i in range(3)
        ],
        rules=[Rule(name="stalls", condition="orders_stalled", window=600)],
    )
    config = settings(concurrency=1)
    journey(database, "o-1", "stalled", missing_hops=["shipping"])
    AlertEvaluator(database, rules, config, clock=clock).run_once()
    sender = AlertSender(database, rules, config, clock)
    try:
        assert [sender.run_once() for _ in range(4)] == [1, 1, 1, 0]
    finally:
        sender.close()
    with database.sessions() as session:
        assert session.scalars(select(AlertDelivery.status)).all() == ["delivered"] * 3


def test_a_sender_whose_claim_lapsed_cannot_overwrite_the_next_attempt(
    database: Database,
) -> None:
    """Sender A's attempt outlives its claim; sender B (another process) takes the row over
    and delivers it. A's late failure must not be written over B's success."""
    entered, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def answer(path: str) -> int:
        calls.append(path)
        if len(calls) == 1:  # A's attempt: held until B has delivered
            entered.set()
            release.wait(10)
            return 503
        return 200

    hook = AlertReceiver(secret=SECRET, answer=answer).start()
    clock = Clock()
    rules = stall_rules(hook.url)
    journey(database, "o-1", "stalled", missing_hops=["shipping"])
    AlertEvaluator(database, rules, settings(), clock=clock).run_once()
    a, b = (AlertSender(database, rules, settings(), clock) for _ in range(2))
    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(a.run_once()))
    try:
        first.start()
        assert entered.wait(10), "sender A never reached the receiver"
        clock.now += timedelta(minutes=5)  # A's claim has lapsed
        assert b.run_once() == 1
        release.set()
        first.join(10)
    finally:
        release.set()
        a.close()
        b.close()
        hook.stop()
    assert results == [1]
    (delivery,) = deliveries(database).values()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert (delivery.last_status_code, delivery.last_error) == (200, None)


class Trickle:
    """An HTTP server that answers one byte at a time, each well within a per-read timeout:
    only a deadline on the whole attempt ends it."""

    def __init__(self, seconds: float) -> None:
        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.recv(65536)
                answer = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 200 + b"\r\n"
                try:
                    for byte in answer:
                        self.request.sendall(bytes([byte]))
                        time.sleep(seconds / len(answer))  # the slow target's own pace
                    self.request.sendall(b"Content-Length: 0\r\n\r\n")
                except OSError:
                    pass  # the sender gave up: what is measured

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_an_attempt_is_given_up_after_the_timeout_in_all(database: Database) -> None:
    """The timeout bounds the whole attempt, not each read: a target trickling its answer
    for 8 s is given up on after 1 s."""
    trickle = Trickle(seconds=8)
    clock = Clock()
    rules = stall_rules(trickle.url)
    config = settings(timeout=1.0)
    journey(database, "o-1", "stalled", missing_hops=["shipping"])
    AlertEvaluator(database, rules, config, clock=clock).run_once()
    sender = AlertSender(database, rules, config, clock)
    try:
        started = time.perf_counter()
        assert sender.run_once() == 1
        took = time.perf_counter() - started
    finally:
        sender.close()
        trickle.stop()
    (delivery,) = deliveries(database).values()
    assert delivery.status == "pending" and "timed out" in (delivery.last_error or ""), delivery
    assert took < 3.0, f"the attempt took {took:.1f} s with a 1 s timeout"


def test_slack_text_escapes_what_slack_reads_as_markup() -> None:
    text = slack_text(
        {
            "status": "firing",
            "rule": "r",
            "summary": "release <!channel> & <http://evil.test|click>",
            "url": "http://d/orders?status=stalled&flow=checkout",
        }
    )
    assert "&lt;!channel&gt; &amp; &lt;http://evil.test|click&gt;" in text
    assert "<!channel>" not in text and "<http://evil" not in text
    assert text.endswith("<http://d/orders?status=stalled&flow=checkout|Open in sentrail>")


def test_the_receiver_drops_a_delivery_it_already_accepted(receiver: AlertReceiver) -> None:
    """Delivery is at least once: a repeat of an accepted delivery id is answered 200 and
    dropped (not a notice again); a repeat of one it refused is taken."""
    body = orjson.dumps({"delivery_id": "d-1", "type": "alert.fired", "alert": {}})
    headers = signature_headers(SECRET, "d-1", body, int(time.time()))
    answers = [httpx.post(receiver.url, content=body, headers=headers) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert len(receiver.received) == 2 and len(receiver.notices()) == 1
    assert receiver.received[1].duplicate


def test_a_webhook_without_a_secret_is_a_start_up_warning(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    rules = default_rules("http://127.0.0.1:9/hook", None)
    sender = AlertSender(database, rules, settings(timeout=0.5))
    with caplog.at_level(logging.WARNING, "correlator.alerts_delivery"):
        warnings = sender.check_targets()
    sender.close()
    assert any("webhook" in w and "no secret" in w for w in warnings), warnings
    assert "no secret" in caplog.text


def test_an_evaluator_leaves_alone_the_alerts_of_rules_it_does_not_have(
    database: Database,
) -> None:
    """Two processes with different rule files (a rolling deploy): neither resolves the
    other's alerts, and a pass with nothing of its own to change writes nothing."""
    journey(database, "o-1", "stalled", missing_hops=["shipping"])
    both = stall_rules("http://127.0.0.1:9/")
    both.rules.append(Rule(name="other", condition="orders_stalled", window=600))
    clock = Clock()
    assert AlertEvaluator(database, both, settings(), clock=clock).run_once().fired == 2
    passes = claimed_passes(database)
    narrow = AlertEvaluator(database, stall_rules("http://127.0.0.1:9/"), settings(), clock=clock)
    assert narrow.run_once().resolved == 0
    assert claimed_passes(database) == passes
    with database.sessions() as session:
        assert session.scalars(select(Alert.status)).all() == ["firing", "firing"]
