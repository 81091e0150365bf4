"""Sending alert notifications: the outbox (`alert_delivery`) the evaluator fills, sent by a
thread of its own, at most `SENTRAIL_ALERT_CONCURRENCY` at once, each attempt bounded by
`SENTRAIL_ALERT_TIMEOUT`, retried with backoff, dead-lettered after `SENTRAIL_ALERT_MAX_ATTEMPTS`
(docs/reference.md#alert-deliveries).

Each attempt is claimed with a compare-and-set on the row's attempt count, so several
correlator processes never send one attempt twice, and its outcome is written only if the row
is still at that attempt, so a sender whose claim lapsed never overwrites the next attempt's.
A round claims at most `concurrency` rows, all sent at once, each bounded as a whole by the
timeout: the claim outlasts the round. Delivery is at least once (a sender that stops after
sending and before recording sends again later): receivers deduplicate on `Sentrail-Delivery`.
Webhooks are signed (`signature_headers`): HMAC-SHA256 over `"{timestamp}.{body}"`, so a
receiver can refuse a replayed or altered body.
"""

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import smtplib
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from sqlalchemy import select, update

from correlator.alerts import DEAD, DELIVERED, PENDING, AlertEvaluator, backoff
from rules.alerts import AlertRules, AlertSettings, Target
from store.clock import utcnow
from store.engine import Database
from store.models import AlertDelivery

log = logging.getLogger(__name__)

USER_AGENT = "sentrail-alerts/0.1"
MAX_ERROR = 500  # characters of an error or answer kept on the delivery
LEASE_MARGIN = 10.0  # seconds a claim outlasts the round's attempts (recording them)
# Line breaks and other control characters: never in a mail header (a header injection, or
# EmailMessage refusing the message) nor in a Slack line.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    delivery_id: str
    target: str
    attempts: int  # this attempt's number
    payload: dict[str, Any]


_LOST = "attempt {} never reported its outcome (its sender stopped); no attempt left"


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None


def signature_headers(
    secret: str | None, delivery_id: str, body: bytes, timestamp: int
) -> dict[str, str]:
    """The headers of a signed webhook: `Sentrail-Signature: sha256=<hex>` is HMAC-SHA256 with
    the secret over the bytes `"{Sentrail-Timestamp}." + body`."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Sentrail-Delivery": delivery_id,
        "Sentrail-Timestamp": str(timestamp),
    }
    if secret:
        signed = f"{timestamp}.".encode() + body
        digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        headers["Sentrail-Signature"] = f"sha256={digest}"
    return headers


def slack_escape(text: object) -> str:
    """Text as Slack shows it: `&`, `<` and `>` are its markup (links, mentions), escaped."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(alert: dict[str, Any]) -> str:
    mark = (
        ":red_circle: FIRING" if alert.get("status") == "firing" else ":white_check_mark: RESOLVED"
    )
    url = re.sub(r"[<>|\s]", lambda m: f"%{ord(m.group()):02X}", str(alert.get("url")))
    link = f"<{url}|Open in sentrail>"
    rule, summary = slack_escape(alert.get("rule")), slack_escape(alert.get("summary"))
    return f"{mark} *{rule}*: {summary}\n{link}"


def header_value(text: object) -> str:
    """A mail header's value with each control character (CR, LF, …) as a space: text from
    events (a release, a service) can neither inject a header nor make the message invalid."""
    return CONTROL.sub(" ", str(text))


def email_message(target: Target, delivery_id: str, alert: dict[str, Any]) -> EmailMessage:
    message = EmailMessage()
    state = "FIRING" if alert.get("status") == "firing" else "RESOLVED"
    subject = f"[sentrail] {state} {alert.get('rule')}: {alert.get('summary')}"
    message["Subject"] = header_value(subject)[:250]
    message["From"] = header_value(target.sender)
    message["To"] = header_value(", ".join(target.to))
    message["Sentrail-Delivery"] = header_value(delivery_id)
    message.set_content(
        f"{alert.get('summary')}\n\nRule: {alert.get('rule')} ({alert.get('condition')})\n"
        f"Group: {alert.get('group_key')}\nValue: {alert.get('value')} "
        f"(threshold {alert.get('threshold')})\nFired at: {alert.get('fired_at')}\n"
        f"Resolved at: {alert.get('resolved_at') or '-'}\n\n{alert.get('url')}\n"
    )
    return message


class AlertSender:
    def __init__(
        self,
        database: Database,
        rules: AlertRules,
        settings: AlertSettings | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self.targets = {target.name: target for target in rules.targets}
        self.settings = settings or AlertSettings()
        self.clock = clock
        self.pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="alert-send")

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    def run_once(self) -> int:
        """Sends the notifications due now (at most `concurrency`, all at once); returns how
        many were attempted. Each outcome is recorded as its attempt ends, apart from the
        others: one that cannot be recorded is retried once its claim lapses."""
        claimed = self._claim(self.clock())
        futures = {self.pool.submit(self._send, delivery): delivery for delivery in claimed}
        for future in as_completed(futures):
            delivery = futures[future]
            try:
                self._record(delivery, future.result(), self.clock())
            except Exception:
                log.exception(
                    "alert delivery %s: its outcome was not recorded", delivery.delivery_id
                )
        return len(claimed)

    def _claim(self, now: datetime) -> list[_Claimed]:
        """The rows due now, at most `concurrency`, each moved to its next attempt with a
        compare-and-set. A row already at `max_attempts` (its sender stopped during the last
        attempt) is dead-lettered instead."""
        with self.database.engine.connect() as connection:
            due = connection.execute(
                select(
                    AlertDelivery.id,
                    AlertDelivery.delivery_id,
                    AlertDelivery.target,
                    AlertDelivery.attempts,
                    AlertDelivery.payload,
                )
                .where(AlertDelivery.status == PENDING, AlertDelivery.next_attempt_at <= now)
                .order_by(AlertDelivery.next_attempt_at, AlertDelivery.id)
                .limit(self.settings.concurrency)
            ).all()
            connection.rollback()
        if not due:
            return []
        # The round's attempts run at once, each bounded by the timeout in all: the claim lasts
        # until they are over and recorded; only then may another process take a row over.
        lease = now + timedelta(seconds=self.settings.timeout + LEASE_MARGIN)
        claimed = []
        with self.database.writing() as connection:
            for row in due:
                exhausted = row.attempts >= self.settings.max_attempts
                values: dict[str, Any] = (
                    {"status": DEAD, "updated_at": now, "last_error": _LOST.format(row.attempts)}
                    if exhausted
                    else {"attempts": row.attempts + 1, "next_attempt_at": lease, "updated_at": now}
                )
                moved = connection.execute(
                    update(AlertDelivery)
                    .where(
                        AlertDelivery.id == row.id,
                        AlertDelivery.attempts == row.attempts,
                        AlertDelivery.status == PENDING,
                    )
                    .values(values)
                )
                if moved.rowcount != 1:
                    continue
                if exhausted:
                    log.warning(
                        "alert delivery %s to %s dead-lettered: %s",
                        row.delivery_id, row.target, _LOST.format(row.attempts),
                    )  # fmt: skip
                else:
                    claimed.append(
                        _Claimed(row.id, row.delivery_id, row.target, row.attempts + 1, row.payload)
                    )
            connection.commit()
        return claimed

    def _send(self, delivery: _Claimed) -> Outcome:
        """One attempt, never raising: whatever goes wrong (a hostile value in the payload
        included) is this delivery's failed outcome, retried like a refused connection."""
        target = self.targets.get(delivery.target)
        if target is None:
            return Outcome(False, error=f"target {delivery.target!r} is no longer configured")
        try:
            if target.kind == "email":
                return self._email(target, delivery)
            return asyncio.run(self._post(target, delivery))
        except TimeoutError:
            return Outcome(False, error=f"timed out (at most {self.settings.timeout:g} s in all)")
        except (httpx.HTTPError, OSError, smtplib.SMTPException) as exc:
            return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR])
        except Exception as exc:
            log.warning(
                "alert delivery %s to %s failed unexpectedly",
                delivery.delivery_id, delivery.target, exc_info=True,
            )  # fmt: skip
            return Outcome(False, error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR])

    async def _post(self, target: Target, delivery: _Claimed) -> Outcome:
        """The POST, bounded as a whole by the timeout (httpx's own bounds each read)."""
        assert target.url is not None  # checked by Target
        if target.kind == "slack":
            body = orjson.dumps({"text": slack_text(delivery.payload.get("alert", {}))})
            headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        else:
            body = orjson.dumps({"delivery_id": delivery.delivery_id, **delivery.payload})
            headers = signature_headers(target.secret, delivery.delivery_id, body, int(time.time()))
        async with (
            asyncio.timeout(self.settings.timeout),
            httpx.AsyncClient(timeout=self.settings.timeout, follow_redirects=False) as http,
        ):
            answer = await http.post(target.url, content=body, headers=headers)
        if answer.is_success:
            return Outcome(True, answer.status_code)
        return Outcome(
            False, answer.status_code, f"HTTP {answer.status_code}: {answer.text}"[:MAX_ERROR]
        )

    def _email(self, target: Target, delivery: _Claimed) -> Outcome:
        """The message over SMTP, bounded as a whole by the timeout: past it, the connection
        is shut down under the blocked call."""
        assert target.host is not None  # checked by Target
        message = email_message(target, delivery.delivery_id, delivery.payload.get("alert", {}))
        smtp = smtplib.SMTP(timeout=self.settings.timeout)
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            sock = smtp.sock
            if sock is not None:
                with contextlib.suppress(OSError):  # already closed
                    sock.shutdown(socket.SHUT_RDWR)

        watchdog = threading.Timer(self.settings.timeout, expire)
        watchdog.start()
        try:
            smtp.connect(target.host, target.port)
            if target.starttls:
                smtp.starttls()
            if target.username and target.password:
                smtp.login(target.username, target.password)
            smtp.send_message(message)
        except (OSError, smtplib.SMTPException):
            if expired.is_set():
                raise TimeoutError from None
            raise
        finally:
            watchdog.cancel()
            smtp.close()
        return Outcome(True)

    def _record(self, delivery: _Claimed, outcome: Outcome, now: datetime) -> None:
        """The attempt's outcome, written only if the row is still at this attempt: a sender
        whose claim lapsed (another process took the row over) changes nothing."""
        values: dict[str, Any] = {
            "last_status_code": outcome.status_code,
            "last_error": outcome.error,
            "updated_at": now,
        }
        dead = not outcome.ok and delivery.attempts >= self.settings.max_attempts
        if outcome.ok:
            values |= {"status": DELIVERED, "delivered_at": now}
        elif dead:
            values["status"] = DEAD
        else:
            values["next_attempt_at"] = now + backoff(self.settings, delivery.attempts)
        with self.database.writing() as connection:
            moved = connection.execute(
                update(AlertDelivery)
                .where(
                    AlertDelivery.id == delivery.id,
                    AlertDelivery.status == PENDING,
                    AlertDelivery.attempts == delivery.attempts,
                )
                .values(values)
            )
            connection.commit()
        if moved.rowcount != 1:
            log.warning(
                "alert delivery %s: attempt %d ended after its claim lapsed; not recorded",
                delivery.delivery_id, delivery.attempts,
            )  # fmt: skip
        elif dead:
            log.warning(
                "alert delivery %s to %s dead-lettered after %d attempts: %s",
                delivery.delivery_id, delivery.target, delivery.attempts, outcome.error,
            )  # fmt: skip

    def check_targets(self) -> list[str]:
        """A warning per target that cannot be reached now (start-up: a warning, never a
        crash; its notifications are retried)."""
        warnings = [
            f"alert target {t.name} has no secret: its webhooks are unsigned, and a receiver "
            "cannot tell them from forged ones"
            for t in self.targets.values()
            if t.kind == "webhook" and not t.secret
        ]
        for target in self.targets.values():
            host, port = target.host or "", target.port
            try:
                if target.kind != "email":
                    parts = urlsplit(target.url or "")
                    host = parts.hostname or ""
                    port = parts.port or (443 if parts.scheme == "https" else 80)
                socket.create_connection(
                    (host, port), timeout=min(self.settings.timeout, 3)
                ).close()
            except (OSError, ValueError) as exc:  # ValueError: a URL urlsplit cannot read
                warnings.append(f"alert target {target.name} ({host}:{port}) unreachable: {exc}")
        for warning in warnings:
            retried = "" if "no secret" in warning else "; its notifications will be retried"
            log.warning("%s%s", warning, retried)
        return warnings

    def run_forever(self, stop: threading.Event, poll: float = 0.5) -> None:
        """Sends what is due until `stop` is set; a failed round (the database away) is logged
        and tried again."""
        self.check_targets()
        while not stop.is_set():
            try:
                sent = self.run_once()
            except Exception:
                log.exception("alert delivery round failed; again in %.1f s", poll)
                sent = 0
            if not sent:
                stop.wait(poll)


class AlertThreads:
    """The evaluator's thread and the sender's, in a process that runs the correlator role:
    two threads, so that a slow target delays only its own notifications."""

    def __init__(self, evaluator: AlertEvaluator, sender: AlertSender) -> None:
        self.evaluator = evaluator
        self.sender = sender
        self.stop_event = threading.Event()
        self.threads = [
            threading.Thread(
                target=evaluator.run_forever, args=(self.stop_event,), name="alerts", daemon=True
            ),
            threading.Thread(
                target=sender.run_forever, args=(self.stop_event,), name="alert-send", daemon=True
            ),
        ]

    @classmethod
    def build(
        cls, database: Database, rules: AlertRules, settings: AlertSettings, dashboard_url: str
    ) -> "AlertThreads | None":
        """None when there is nothing to evaluate. Rules without targets still evaluate: their
        alerts show in the API and on the dashboard."""
        if not rules.rules:
            return None
        return cls(
            AlertEvaluator(database, rules, settings, dashboard_url),
            AlertSender(database, rules, settings),
        )

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout)
        self.sender.close()
