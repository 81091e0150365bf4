"""`sentrail rules check FILE`: is a rules file valid, and what would it do to the events stored?

One streaming pass over every stored event (sentrail/stored.py): each payload's keys are
extracted under the file's rules as ingest would, and counted per key. Journeys are predicted
the way the correlator makes them (correlator/worker.py): one per flow and value of the flow's
key; an event with no flow's key joins the one journey its trace or link keys lead to, or none
when they lead to several (ambiguous; the correlator still places those whose spans descend
from one order's, reads/span_parents.py, which this preview does not read). Nothing is written.

Memory: values, traces and links are held as 64-bit hashes (a collision between two of a few
million values is about one in a million), services per key are capped.
"""

import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rules.config import CorrelationRules, load_rules
from rules.extract import Key, KeyExtractor
from sentrail.stored import keys_of, stored_pages
from store.engine import Database

MAX_SERVICES = 100  # per key; further services are counted under OTHER
OTHER = "(other services)"
MANY = -1  # a link that leads to more than one journey
TRACE = "trace"


class RulesFileError(Exception):
    """A rules file that cannot be used: unreadable, not TOML, or not valid rules."""


def load_checked(path: Path) -> CorrelationRules:
    """The rules of `path`, or RulesFileError with every problem on a line of its own."""
    try:
        return load_rules(path)
    except OSError as exc:
        raise RulesFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RulesFileError(f"{path}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        lines = [f"{path}: {exc.error_count()} problem(s):"]
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"]) or "(file)"
            lines.append(f"  {where}: {error['msg']}")
        raise RulesFileError("\n".join(lines)) from None


@dataclass
class KeyStats:
    name: str
    flow: str | None  # the flow whose journeys this key makes; None for a link key
    events: int = 0
    overruled: int = 0  # events whose own carriers disagreed (the first in precedence won)
    carriers: Counter[str] = field(default_factory=Counter)
    services: Counter[str] = field(default_factory=Counter)
    _values: set[int] = field(default_factory=set)

    def add(self, key: Key, service: str | None) -> None:
        self.events += 1
        self._values.add(hash(key.value))
        self.carriers[key.carrier] += 1
        if key.overruled:
            self.overruled += 1
        name = service or "(no service)"
        if name in self.services or len(self.services) < MAX_SERVICES:
            self.services[name] += 1
        else:
            self.services[OTHER] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "flow": self.flow,
            "events": self.events,
            "distinct_values": len(self._values),
            "carriers": dict(self.carriers.most_common()),
            "overruled": self.overruled,
            "services": dict(self.services.most_common()),
        }


@dataclass
class Journeys:
    """What the correlator would make of the flows' keys: journeys (one per flow and value),
    and where events without a flow's key would go."""

    by_flow: dict[str, set[int]] = field(default_factory=dict)
    link_to: dict[int, int] = field(default_factory=dict)  # link -> journey, or MANY
    keyless_links: list[tuple[int, ...]] = field(default_factory=list)

    def add(self, journeys: list[tuple[str, str]], links: list[int]) -> None:
        if not journeys:
            self.keyless_links.append(tuple(links))
            return
        for flow, value in journeys:
            journey = hash((flow, value))
            self.by_flow.setdefault(flow, set()).add(journey)
            for link in links:
                if self.link_to.setdefault(link, journey) != journey:
                    self.link_to[link] = MANY

    def placed(self, flows: list[str]) -> dict[str, Any]:
        joined = ambiguous = 0
        for links in self.keyless_links:
            targets = {self.link_to[link] for link in links if link in self.link_to}
            if len(targets) == 1 and MANY not in targets:
                joined += 1
            elif targets:
                ambiguous += 1
        keyless = len(self.keyless_links)
        return {
            "journeys": {flow: len(self.by_flow.get(flow, ())) for flow in flows},
            "keyless_events": keyless,
            "joined": joined,
            "ambiguous": ambiguous,
            "in_no_journey": keyless - joined - ambiguous,
        }


def check(database: Database, rules: CorrelationRules) -> dict[str, Any]:
    """Counts per key and the journeys the rules would make, over every stored event."""
    extractor = KeyExtractor(rules)
    flows = rules.flow_of_key
    stats = {rule.name: KeyStats(rule.name, flows.get(rule.name)) for rule in rules.keys}
    journeys = Journeys()
    events = unreadable = 0
    for page in stored_pages(database):
        for event in page:
            events += 1
            if event.payload is None:
                unreadable += 1
                continue
            made: list[tuple[str, str]] = []
            links = [hash((TRACE, event.trace_id))] if event.trace_id else []
            for key in keys_of(extractor, event.payload, event.source):
                stats[key.name].add(key, event.service)
                if key.name in flows:
                    made.append((flows[key.name], key.value))
                else:
                    links.append(hash((key.name, key.value)))
            journeys.add(made, links)
    return {
        "events": events,
        "unreadable": unreadable,
        "flows": {flow: key for key, flow in flows.items()},
        "keys": [stats[rule.name].as_dict() for rule in rules.keys],
        **journeys.placed(list(flows.values())),
    }


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _counts(counter: dict[str, int]) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in counter.items()) or "-"


def render_text(path: Path, report: dict[str, Any]) -> str:
    events = report["events"]
    skipped = report["unreadable"]
    flows = ", ".join(f"{flow} (key {key})" for flow, key in report["flows"].items())
    lines = [
        f"rules {path}: valid ({len(report['keys'])} keys; flows {flows})",
        f"stored events read: {events:,}"
        + (f" ({skipped:,} unreadable payloads skipped)" if skipped else ""),
    ]
    for key in report["keys"]:
        role = f"key of flow {key['flow']}" if key["flow"] else "link key"
        lines += [
            f"key {key['name']} ({role}): {key['events']:,} events "
            f"({_share(key['events'], events)}), "
            f"{key['distinct_values']:,} distinct values",
            f"  by carrier: {_counts(key['carriers'])}",
            f"  carriers disagreed (overruled): {key['overruled']:,}",
            f"  by service: {_counts(key['services'])}",
        ]
    lines += [f"journeys of flow {flow}: {count:,}" for flow, count in report["journeys"].items()]
    lines.append(
        f"events with no flow's key: {report['keyless_events']:,}: "
        f"{report['joined']:,} join a journey through their trace or a link key, "
        f"{report['ambiguous']:,} ambiguous (their trace or links lead to more than one "
        f"journey: they join none, unless their spans descend from one of them), "
        f"{report['in_no_journey']:,} in no journey"
    )
    return "\n".join(lines) + "\n"
