"""The alert evaluator: every `SENTRAIL_ALERT_INTERVAL` seconds, each rule's condition is read
(correlator/alerts_conditions.py) and compared with the alerts open; a new group fires, a group
gone resolves, a group still there fires nothing again (docs/reference.md#alerts).

One evaluator at a time, however many correlator processes share the database: a pass commits
only after moving the `alerts` row of `correlator_state` with the compare-and-set the
correlator's passes use (correlator/worker.py), so of two evaluators that read the same state
one writes and the other changes nothing. A pass with nothing to change writes nothing (as a
correlator pass with nothing new). A pass only writes rows: the notifications are an
outbox (`alert_delivery`) that the delivery thread sends (correlator/alerts_delivery.py), so a
slow or dead target never holds the evaluator, the correlator or the collector.
"""

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select, update

from correlator.alerts_conditions import CONDITIONS, Finding
from rules.alerts import AlertRules, AlertSettings, Rule
from store.clock import utcnow
from store.engine import Database
from store.models import ALERTS_STATE, Alert, AlertDelivery, CorrelatorState
from store.upsert import insert_ignore

log = logging.getLogger(__name__)

STATE = ALERTS_STATE
FIRING, RESOLVED = "firing", "resolved"
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


@dataclass(slots=True)
class EvaluationResult:
    fired: int = 0
    resolved: int = 0
    stale: bool = False  # another evaluator committed first: nothing written


@dataclass(frozen=True, slots=True)
class _Open:
    id: int
    rule: str
    group: str
    value: float
    payload: dict[str, Any]


class AlertEvaluator:
    def __init__(
        self,
        database: Database,
        rules: AlertRules,
        settings: AlertSettings | None = None,
        dashboard_url: str = "http://127.0.0.1:8000",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database = database
        self.rules = rules
        self.settings = settings or AlertSettings()
        self.dashboard_url = dashboard_url.rstrip("/")
        self.clock = clock

    def run_once(self) -> EvaluationResult:
        """One evaluation of every rule: reads without the write lock, then writes the
        changes (if any) behind the compare-and-set."""
        now = self.clock()
        with self.database.sessions() as session:
            passes = self._passes(session.connection(), now)
            found = {rule.name: self._find(session, rule, now) for rule in self.rules.rules}
            opened = self._open_alerts(session.connection(), set(found))
            session.rollback()
        if not _changes(found, opened):
            return EvaluationResult()  # nothing fires, resolves or moves: no write, no lock
        with self.database.writing() as connection:
            moved = connection.execute(
                update(CorrelatorState)
                .where(CorrelatorState.name == STATE, CorrelatorState.passes == passes)
                .values(passes=passes + 1, updated_at=now)
            )
            if moved.rowcount != 1:
                connection.rollback()
                return EvaluationResult(stale=True)
            result = self._apply(connection, found, opened, now)
            connection.commit()
        if result.fired or result.resolved:
            log.info("alerts: %d fired, %d resolved", result.fired, result.resolved)
        return result

    def _find(self, session: Any, rule: Rule, now: datetime) -> list[Finding] | None:
        """The rule's findings; None when its condition could not be read (its open alerts
        are then left as they are, neither resolved nor fired again)."""
        try:
            return CONDITIONS[rule.condition](session, rule, now)
        except Exception:
            log.exception("alert rule %s: condition %s failed", rule.name, rule.condition)
            session.rollback()
            return None

    def _passes(self, connection: Connection, now: datetime) -> int:
        passes = connection.scalar(
            select(CorrelatorState.passes).where(CorrelatorState.name == STATE)
        )
        if passes is not None:
            return int(passes)
        with self.database.writing() as writer:
            insert_ignore(
                writer,
                cast(Table, CorrelatorState.__table__),
                [{"name": STATE, "watermark": 0, "gaps": {}, "passes": 0, "updated_at": now}],
                ["name"],
            )
            writer.commit()
        return 0

    def _open_alerts(self, connection: Connection, rules: set[str]) -> dict[tuple[str, str], _Open]:
        """The firing alerts of this evaluator's rules. Another rule's alerts are left as they
        are: another process may run another rules file (a rolling deploy), and an alert of a
        rule taken out of the file stays as it was when the rule went."""
        rows = connection.execute(
            select(Alert.id, Alert.rule, Alert.group_key, Alert.value, Alert.details).where(
                Alert.status == FIRING, Alert.rule.in_(rules)
            )
        )
        return {
            (r.rule, r.group_key): _Open(
                r.id, r.rule, r.group_key, r.value, r.details.get("payload", {})
            )
            for r in rows
        }

    def _apply(
        self,
        connection: Connection,
        found: dict[str, list[Finding] | None],
        opened: dict[tuple[str, str], _Open],
        now: datetime,
    ) -> EvaluationResult:
        result = EvaluationResult()
        rules = {rule.name: rule for rule in self.rules.rules}
        for name, findings in found.items():
            if findings is None:
                continue
            for finding in findings:
                alert = opened.get((name, finding.group))
                if alert is None:
                    self._fire(connection, rules[name], finding, now)
                    result.fired += 1
                elif alert.value != finding.value:
                    # Still firing, notified once: the dashboard shows the current measure.
                    connection.execute(
                        update(Alert)
                        .where(Alert.id == alert.id)
                        .values(value=finding.value, summary=finding.summary, updated_at=now)
                    )
        for (name, group), alert in opened.items():
            findings = found.get(name, [])
            if findings is None or any(f.group == group for f in findings):
                continue
            self._resolve(connection, rules[name], alert, now)
            result.resolved += 1
        return result

    def _fire(self, connection: Connection, rule: Rule, finding: Finding, now: datetime) -> None:
        url = self.dashboard_url + finding.path
        alert: dict[str, Any] = {
            "rule": rule.name,
            "condition": rule.condition,
            "group_key": finding.group,
            "status": FIRING,
            "summary": finding.summary,
            "value": finding.value,
            "threshold": rule.threshold,
            "url": url,
            "fired_at": now,
            "resolved_at": None,
            "updated_at": now,
        }
        payload = {
            **{k: v for k, v in alert.items() if not k.endswith("_at")},
            "window": rule.window,
            "fired_at": now.isoformat(),
            "resolved_at": None,
            "details": finding.details,
        }
        alert["details"] = {**finding.details, "payload": payload}
        alert_id = connection.execute(insert(Alert).values(alert).returning(Alert.id)).scalar_one()
        payload["id"] = alert_id
        connection.execute(
            update(Alert).where(Alert.id == alert_id).values(details=alert["details"])
        )
        self._notify(connection, rule, alert_id, "fired", payload, now)

    def _resolve(self, connection: Connection, rule: Rule, alert: _Open, now: datetime) -> None:
        connection.execute(
            update(Alert)
            .where(Alert.id == alert.id, Alert.status == FIRING)
            .values(status=RESOLVED, resolved_at=now, updated_at=now)
        )
        payload = {**alert.payload, "status": RESOLVED, "resolved_at": now.isoformat()}
        payload["summary"] = f"resolved: {payload.get('summary', alert.group)}"
        self._notify(connection, rule, alert.id, "resolved", payload, now)

    def _notify(
        self,
        connection: Connection,
        rule: Rule,
        alert_id: int,
        notice: str,
        payload: dict[str, Any],
        now: datetime,
    ) -> None:
        rows = [
            {
                "alert_id": alert_id,
                "delivery_id": str(uuid.uuid4()),
                "notice": notice,
                "target": target.name,
                "target_kind": target.kind,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "last_status_code": None,
                "last_error": None,
                "payload": {"type": f"alert.{notice}", "alert": payload},
                "created_at": now,
                "delivered_at": None,
                "updated_at": now,
            }
            for target in self.rules.targets_of(rule)
        ]
        if rows:
            connection.execute(insert(AlertDelivery), rows)

    def run_forever(self, stop: threading.Event) -> None:
        """Evaluates every `interval` seconds until `stop` is set; a failed evaluation (the
        database away) is logged and tried again at the next one."""
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("alert evaluation failed; again in %.1f s", self.settings.interval)
            stop.wait(self.settings.interval)


def _changes(found: dict[str, list[Finding] | None], opened: dict[tuple[str, str], _Open]) -> bool:
    """Whether a pass has anything to write: a group to fire, an alert to resolve, or a
    firing alert whose measure moved."""
    current = {(name, f.group): f.value for name, findings in found.items() for f in findings or ()}
    unknown = {name for name, findings in found.items() if findings is None}
    if any(key not in opened or opened[key].value != v for key, v in current.items()):
        return True
    return any(key not in current and key[0] not in unknown for key in opened)


def backoff(settings: AlertSettings, attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    seconds = settings.retry_backoff * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.retry_backoff_max))
