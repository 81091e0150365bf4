"""One alert evaluation over many orders: how long the evaluator's pass takes, every condition.

    python -m bench.alerts --journeys 100000 [--backend postgresql]

Loads JOURNEYS journeys of the last hour (80 % completed, 10 % failed at payment or catalog,
5 % stalled waiting for shipping, 5 % in progress) over two releases, with the journey labels
the release reads count, then times `AlertEvaluator.run_once` (correlator/alerts.py) with one
rule per condition, all over a one-hour window: the first pass (which fires the alerts and
writes their deliveries) and the median of five more (nothing changes: reads only).
"""

import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bench import harness
from correlator.alerts import AlertEvaluator
from rules.alerts import AlertRules, Rule, Target
from store.engine import Database
from store.models import Journey, JourneyLabel

CHUNK = 5000
STATUSES = [("completed", 80), ("failed", 10), ("stalled", 5), ("in_progress", 5)]


def journey_row(index: int, rng: random.Random, now: datetime) -> dict[str, Any]:
    status = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0]
    release = "2.0" if index % 2 else "1.0"
    seen = now - timedelta(seconds=rng.uniform(0, 3500))
    return {
        "flow": "checkout",
        "scope": "default",
        "key": f"order-{index}",
        "status": status,
        "failed_service": rng.choice(["payment", "catalog"]) if status == "failed" else None,
        "first_seen_at": seen - timedelta(seconds=5),
        "last_seen_at": seen,
        "event_count": 8,
        "error_count": 1 if status == "failed" else 0,
        "services": ["frontend", "order", "payment"],
        "impacted_services": [],
        "missing_hops": ["shipping"] if status == "stalled" else [],
        "releases": [release],
        "environments": ["prod"],
        "trace_ids": [],
        "hops": [],
        "updated_at": now,
    }


def load(database: Database, journeys: int, now: datetime) -> None:
    rng = random.Random(7)  # nosec B311  # synthetic load, repeatable
    for start in range(0, journeys, CHUNK):
        rows = [journey_row(i, rng, now) for i in range(start, min(journeys, start + CHUNK))]
        with database.writing() as connection:
            ids = connection.execute(insert(Journey).returning(Journey.id), rows).scalars().all()
            labels = [
                {
                    "kind": "release",
                    "value": row["releases"][0],
                    "journey_id": journey_id,
                    "status": row["status"],
                    "last_seen_at": row["last_seen_at"],
                }
                for journey_id, row in zip(ids, rows, strict=True)
            ]
            connection.execute(insert(JourneyLabel), labels)
            connection.commit()


def rules() -> AlertRules:
    hour = 3600
    return AlertRules(
        targets=[Target(name="hook", kind="webhook", url="http://127.0.0.1:9/")],
        rules=[
            Rule(name="stalled", condition="orders_stalled", window=hour),
            Rule(name="failed", condition="orders_failed", window=hour, threshold=5),
            Rule(
                name="share",
                condition="orders_failed",
                window=hour,
                measure="share",
                threshold=0.05,
            ),
            Rule(name="release", condition="release_regression", window=hour),
            Rule(name="issues", condition="new_issue", window=hour),
            Rule(name="spike", condition="error_spike", window=hour),
            Rule(name="crons", condition="missed_checkin"),
        ],
    )


def main() -> None:
    options = harness.parser(__doc__)
    options.add_argument("--journeys", type=int, default=100_000)
    args = options.parse_args()
    print(harness.machine())
    with tempfile.TemporaryDirectory() as workdir:
        url = harness.fresh_database(args.backend, Path(workdir))
        database, _, _ = harness.with_project(url)
        now = datetime.now(UTC)
        started = time.perf_counter()
        load(database, args.journeys, now)
        loaded = time.perf_counter() - started
        print(f"{args.backend}: loaded {args.journeys:,} journeys in {loaded:.1f} s")
        evaluator = AlertEvaluator(database, rules(), clock=lambda: now)
        started = time.perf_counter()
        first = evaluator.run_once()
        took = time.perf_counter() - started
        print(f"first pass: {took * 1000:.0f} ms ({first.fired} alerts fired)")
        times = []
        for _ in range(5):
            started = time.perf_counter()
            evaluator.run_once()
            times.append(time.perf_counter() - started)
        median, worst = statistics.median(times) * 1000, max(times) * 1000
        print(f"passes without change: median {median:.0f} ms, max {worst:.0f} ms")
        database.dispose()
        harness.drop_database(url)


if __name__ == "__main__":
    main()
