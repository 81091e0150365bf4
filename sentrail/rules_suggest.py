"""`sentrail rules suggest`: propose correlation keys from what is stored, as a rules file.

A business key (an order ID, a booking reference) is a field whose values look like
identifiers, that several services report, and whose value is the same on the events of
different services within one trace. So, over the newest stored events (a bounded sample):

1. every candidate field is collected: tags, `extra`, leaf fields of `contexts` (a few levels
   deep) and breadcrumb `data`, each under its carrier; spellings of one name (`booking_ref`,
   `bookingRef`, `BookingRef`) count as one field;
2. a field counts only when nearly all its values look like identifiers (UUIDs, long hex,
   numbers of 5 digits or more, prefixed ids like ORD-123; not booleans, levels, URLs, times);
3. it is scored by how often one of its values appears on two services within a trace
   (co-occurrence), by how nearly each value is its own trace (a user ID spans many traces, an
   order one), and by how many events carry it;
4. the best is the key of a flow (its journeys), the next ones link keys; a field whose values
   are mostly those of a key already chosen is another spelling of it and joins its carriers.

Everything read from payloads is capped (fields, names, values, traces), so memory and time do
not depend on what the events contain, only on how many are sampled.
"""

import json
import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from collector.normalize import normalize_tags
from sentrail.stored import StoredEvent

SAMPLE = 200_000  # newest events read by default
MAX_FIELDS = 1000  # candidate fields tracked; fields first seen after that are not
MAX_NAME = 64  # longer field names are skipped
MAX_ITEMS = 64  # entries read per mapping (tags, extra, one context, one breadcrumb's data)
MAX_CRUMBS = 20  # newest breadcrumbs read per event
MAX_CONTEXT_DEPTH = 3
MAX_VALUE = 200  # as rules/extract.py: a longer value is no key
MAX_PAIRS = 100_000  # (trace, value) pairs held per field
MAX_VALUES = 100_000  # distinct values held per field
MAX_SERVICES = 64  # services counted per field
MAX_TRACES = 50_000  # traces whose services' order is kept (for the hops)
MAX_TRACE_SERVICES = 32  # services whose first event is kept per trace
MAX_SPELLINGS = 16  # spellings kept per field (carrier and name)
MAX_KEYS = 5  # keys proposed: one journey key and up to four link keys
MIN_ID_SHARE = 0.9  # share of a field's values that must look like identifiers
MIN_UNIQUENESS = 0.2  # distinct values per trace: below, a value spans too many (a user ID)
MIN_HOP_SHARE = 0.01  # of the journey key's events, for a service to be a hop
SAME_KEY_OVERLAP = 0.5  # share of values two fields share to be one key spelled two ways
MANY = -1  # a value or a (trace, value) pair seen on two services or more

CARRIERS = ("tags", "extra", "contexts", "breadcrumb_data")
# Fields that are the SDK's or the protocol's own, never a business key.
IGNORED = frozenset(
    [
        "traceid",
        "spanid",
        "parentspanid",
        "eventid",
        "sentrytrace",
        "baggage",
        "release",
        "environment",
        "servername",
        "transaction",
        "level",
        "logger",
        "platform",
        "replayid",
        "profileid",
        "sessionid",
        "sid",
    ]
)
IGNORED_CONTEXTS = frozenset({"trace", "otel", "profile", "replay", "runtime", "os", "device"})
IDENTIFIER = re.compile(
    r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}"  # UUID
    r"|[0-9a-f]{16,64}"  # long hex
    r"|\d{5,20}"  # a number of 5 digits or more
    r"|[a-z]{1,12}[-_:#/]?\d{3,32}"  # ORD-123, INV00042
    r"|[a-z]{1,12}[-_:#][a-z0-9]{4,32}",  # BK-7F3K2Q (with digits, checked below)
    re.IGNORECASE,
)
EPOCHS = ((1_000_000_000, 2_000_000_000), (1_000_000_000_000, 2_000_000_000_000))


def looks_like_identifier(value: str) -> bool:
    """UUIDs, long hex, numbers of 5+ digits, prefixed ids; not times (epoch seconds or
    milliseconds), URLs, booleans, levels or words."""
    if not IDENTIFIER.fullmatch(value):
        return False
    if value.isdigit():
        number = int(value)
        return not any(low <= number < high for low, high in EPOCHS)
    return sum(c.isdigit() for c in value) >= 2


def group_of(name: str) -> str:
    """One field however it is spelled: `booking_ref`, `bookingRef`, `Booking-Ref`."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text if 0 < len(text) <= MAX_VALUE else None


def _items(mapping: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(mapping, Mapping):
        for name, value in islice(mapping.items(), MAX_ITEMS):
            if isinstance(name, str) and len(name) <= MAX_NAME:
                yield name, value


def _context_leaves(node: Any, path: str, depth: int) -> Iterator[tuple[str, Any]]:
    for name, value in _items(node):
        if "." in name:
            continue  # a dotted path could not name it
        leaf = f"{path}.{name}" if path else name
        if isinstance(value, Mapping):
            if depth < MAX_CONTEXT_DEPTH:
                yield from _context_leaves(value, leaf, depth + 1)
        else:
            yield leaf, value


def observations(payload: Mapping[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(carrier, field name, value) of every candidate field of one event, capped."""
    tags = payload.get("tags")
    sliced = dict(islice(tags.items(), MAX_ITEMS)) if isinstance(tags, dict) else tags
    if isinstance(sliced, list):
        sliced = sliced[:MAX_ITEMS]
    for name, value in _items(normalize_tags(sliced)):
        yield "tags", name, value
    for name, value in _items(payload.get("extra")):
        yield "extra", name, value
    for name, context in _items(payload.get("contexts")):
        if name not in IGNORED_CONTEXTS and isinstance(context, Mapping):
            for path, value in _context_leaves(context, name, 2):
                yield "contexts", path, value
    crumbs = payload.get("breadcrumbs")
    crumbs = crumbs.get("values") if isinstance(crumbs, dict) else crumbs
    for crumb in crumbs[-MAX_CRUMBS:] if isinstance(crumbs, list) else []:
        if isinstance(crumb, dict):
            for name, value in _items(crumb.get("data")):
                yield "breadcrumb_data", name, value


@dataclass
class Field:
    """What the sample says about one field (all spellings of one name)."""

    events: int = 0
    identifiers: int = 0
    spellings: Counter[tuple[str, str]] = field(default_factory=Counter)
    services: Counter[str] = field(default_factory=Counter)
    values: dict[int, int] = field(default_factory=dict)  # value -> service, or MANY
    pairs: dict[tuple[int, int], int] = field(default_factory=dict)  # (trace, value) -> same

    def add(
        self, service: str, trace: str | None, value: str, spelled: set[tuple[str, str]]
    ) -> None:
        self.events += 1
        for spelling in spelled:
            if spelling in self.spellings or len(self.spellings) < MAX_SPELLINGS:
                self.spellings[spelling] += 1
        if service in self.services or len(self.services) < MAX_SERVICES:
            self.services[service] += 1
        if not looks_like_identifier(value):
            return
        self.identifiers += 1
        where = hash(service)
        _seen(self.values, hash(value), where, MAX_VALUES)
        if trace:
            _seen(self.pairs, (hash(trace), hash(value)), where, MAX_PAIRS)


def _seen(seen: dict[Any, int], key: Any, service: int, cap: int) -> None:
    first = seen.get(key)
    if first is None:
        if len(seen) < cap:
            seen[key] = service
    elif first != service:
        seen[key] = MANY


@dataclass
class Evidence:
    """Why a field is proposed, as the rules file's comments say it."""

    group: str
    field: Field
    share: float  # of the sampled events
    cooccurrence: float  # of its traces, those where a value is on two services or more
    shared_values: float  # of its values, those seen on two services or more
    uniqueness: float  # distinct values per trace, at most 1
    score: float


def evidence(group: str, found: Field, sampled: int) -> Evidence:
    traces = {trace for trace, _ in found.pairs}
    crossing = {trace for (trace, _), where in found.pairs.items() if where == MANY}
    values = {value for _, value in found.pairs}
    cooccurrence = len(crossing) / len(traces) if traces else 0.0
    shared = sum(1 for where in found.values.values() if where == MANY)
    shared_values = shared / len(found.values) if found.values else 0.0
    uniqueness = min(1.0, len(values) / len(traces)) if traces else 1.0
    share = found.events / sampled if sampled else 0.0
    # Traces are the evidence when the events have them; without, values shared by services.
    crosses = cooccurrence if traces else shared_values
    score = crosses * math.sqrt(uniqueness * share)
    return Evidence(group, found, share, cooccurrence, shared_values, uniqueness, score)


@dataclass
class Sample:
    """Everything one pass over the sampled events collects."""

    events: int = 0
    unreadable: int = 0
    fields: dict[str, Field] = field(default_factory=dict)
    services: Counter[str] = field(default_factory=Counter)
    # trace -> service -> when its first event of the trace began (for the hops' order)
    traces: dict[int, dict[str, datetime]] = field(default_factory=dict)

    def add(self, event: StoredEvent) -> None:
        self.events += 1
        if event.payload is None:
            self.unreadable += 1
            return
        service = (event.service or "(no service)")[:128]
        if service in self.services or len(self.services) < MAX_SERVICES:
            self.services[service] += 1
        self._order(event, service)
        found: dict[str, tuple[str, set[tuple[str, str]]]] = {}
        for carrier, name, raw in observations(event.payload):
            group = group_of(name)
            value = _scalar(raw)
            if not group or group in IGNORED or value is None or value == event.trace_id:
                continue
            _, spelled = found.setdefault(group, (value, set()))
            spelled.add((carrier, name))
        for group, (value, spelled) in found.items():
            target = self.fields.get(group)
            if target is None:
                if len(self.fields) >= MAX_FIELDS:
                    continue
                target = self.fields[group] = Field()
            target.add(service, event.trace_id, value, spelled)

    def _order(self, event: StoredEvent, service: str) -> None:
        if not event.trace_id or event.timestamp is None:
            return
        trace = hash(event.trace_id)
        services = self.traces.get(trace)
        if services is None:
            if len(self.traces) >= MAX_TRACES:
                return
            services = self.traces[trace] = {}
        first = services.get(service)
        if first is None and len(services) >= MAX_TRACE_SERVICES:
            return
        if first is None or event.timestamp < first:
            services[service] = event.timestamp

    def hop_order(self, services: list[str]) -> list[str]:
        """`services` in the order their first event comes in the traces they share (mean
        relative position), those never seen in a trace with another last."""
        positions: dict[str, list[float]] = {s: [] for s in services}
        for seen in self.traces.values():
            ordered = sorted((at, s) for s, at in seen.items() if s in positions)
            for rank, (_, service) in enumerate(ordered):
                if len(ordered) > 1:
                    positions[service].append(rank / (len(ordered) - 1))
        return sorted(
            services,
            key=lambda s: (not positions[s], sum(positions[s]) / max(1, len(positions[s]))),
        )


@dataclass
class Proposal:
    name: str
    evidence: Evidence
    spellings: Counter[tuple[str, str]]
    services: Counter[str]  # of every spelling (the evidence is of the main one)


def propose(sample: Sample) -> list[Proposal]:
    """The keys to propose, best first (the first is the journey key)."""
    ranked = sorted(
        (
            evidence(group, found, sample.events)
            for group, found in sample.fields.items()
            if found.events and found.identifiers / found.events >= MIN_ID_SHARE
        ),
        key=lambda e: (-e.score, e.group),
    )
    chosen: list[Proposal] = []
    for candidate in ranked:
        same = next((p for p in chosen if _overlap(p.evidence.field, candidate.field)), None)
        if same is not None:
            # The same key, spelled otherwise (ACME's `order_id` tag, `OrderID` breadcrumbs).
            same.spellings.update(candidate.field.spellings)
            same.services.update(candidate.field.services)
        elif (
            len(chosen) < MAX_KEYS
            and candidate.score > 0
            and len(candidate.field.services) >= 2
            and candidate.uniqueness >= MIN_UNIQUENESS
        ):
            name = _unique(key_name(candidate.field), {p.name for p in chosen})
            found = candidate.field
            chosen.append(
                Proposal(name, candidate, Counter(found.spellings), Counter(found.services))
            )
    return chosen


def _overlap(kept: Field, other: Field) -> bool:
    smaller = min(len(kept.values), len(other.values))
    if not smaller:
        return False
    common = len(kept.values.keys() & other.values.keys())
    return common / smaller >= SAME_KEY_OVERLAP


def key_name(found: Field) -> str:
    """A rules key name (`^[a-z][a-z0-9_]{0,63}$`) from the field's most common spelling."""
    (_, spelling), _ = found.spellings.most_common(1)[0]
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", spelling).lower()
    snake = re.sub(r"[^a-z0-9]+", "_", snake).strip("_")
    if not snake[:1].isalpha():
        snake = f"key_{snake}".rstrip("_")
    return snake[:64]


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name[:60]}_{n}", n + 1
    return candidate


def _string(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's, but for DEL, which TOML wants escaped)."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _comment(text: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f]", "?", text)


def _services(counts: Counter[str], limit: int = 8) -> str:
    shown = ", ".join(f"{name} {count:,}" for name, count in counts.most_common(limit))
    return shown + (f" and {len(counts) - limit} more" if len(counts) > limit else "")


def _key_lines(proposal: Proposal, role: str) -> list[str]:
    e = proposal.evidence
    lines = [
        f"# {role}: {proposal.name}, on {e.share:.1%} of the sampled events, from "
        f"{len(e.field.services)} services ({_services(e.field.services)});",
        f"# a value on two services or more: in {e.cooccurrence:.0%} of its traces, "
        f"{e.shared_values:.0%} of its values; {e.uniqueness:.2f} distinct values per trace.",
        "[[keys]]",
        f"name = {_string(proposal.name)}",
    ]
    for carrier in CARRIERS:
        names = [name for (where, name), _ in proposal.spellings.most_common() if where == carrier]
        if names:
            lines.append(f"{carrier} = [{', '.join(_string(name) for name in names)}]")
    return [_comment(line) if line.startswith("#") else line for line in lines] + [""]


def _flow_lines(proposal: Proposal, sample: Sample) -> list[str]:
    counts = proposal.services
    least = max(1, int(counts.total() * MIN_HOP_SHARE))
    services = sample.hop_order([s for s, n in counts.items() if n >= least])
    hops = [f"    {{ service = {_string(s)}, name = {_string(s)} }}," for s in services]
    return [
        "# One flow: a journey per value of its key. Its hops: the services that carry the key,",
        "# in the order their first event comes in a trace; a journey is completed when the last",
        "# hop happens. Name the flow and its hops, repeat a service the journey visits twice,",
        "# or delete `hops` for the flow to learn its path (docs/reference.md#flows).",
        "[[flows]]",
        f"name = {_string(proposal.name)}",
        f"key = {_string(proposal.name)}",
        "stall_after = 300",
        "hops = [",
        *(_comment(line) if line.startswith("#") else line for line in hops),
        "]",
    ]


def render(proposals: list[Proposal], sample: Sample, stored: int) -> str:
    """The rules file: valid as rules/config.py reads it, with the evidence in comments."""
    unreadable = f", {sample.unreadable:,} unreadable" if sample.unreadable else ""
    lines = [
        "# Correlation rules suggested by `sentrail rules suggest` from the newest "
        f"{sample.events:,} of {stored:,} stored events{unreadable}.",
        "# Review them, preview them with `sentrail rules check FILE`, then set",
        "# SENTRAIL_CORRELATION_CONFIG=FILE and run `sentrail correlate --rebuild`.",
        "",
    ]
    for i, proposal in enumerate(proposals):
        lines += _key_lines(proposal, "journey key" if i == 0 else "link key")
    return "\n".join(lines + _flow_lines(proposals[0], sample)) + "\n"
