"""Reading flows: each flow of the rules with its declared hops, or the path it has learned."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from reads import schemas
from rules.config import CorrelationRules, FlowRule
from store.models import FlowPath


def list_flows(session: Session, rules: CorrelationRules) -> list[schemas.Flow]:
    """The flows in the rules' order, each with what its journeys are judged by."""
    paths = {path.flow: path for path in session.scalars(select(FlowPath))}
    return [_flow(flow, paths.get(flow.name)) for flow in rules.flows]


def _flow(flow: FlowRule, path: FlowPath | None) -> schemas.Flow:
    shown = schemas.Flow(
        name=flow.name,
        key=flow.key,
        entry=flow.entry,
        stall_after=flow.stall_after,
        declared=not flow.learns,
        learned=False,
        hops=[schemas.FlowHop(service=hop.service, name=hop.name) for hop in flow.hops],
    )
    if not flow.learns:
        return shown
    journeys = path.journeys if path else 0
    support = {service: float(share) for service, share in (path.support if path else {}).items()}
    hops = path.hops if path else []
    shown.learned = bool(hops)
    shown.hops = [
        schemas.FlowHop(
            service=hop["service"], name=hop["name"], support=support.get(hop["service"])
        )
        for hop in hops
    ]
    shown.journeys = journeys
    shown.learn_min_journeys = flow.learn_min_journeys
    shown.learn_support = flow.learn_support
    shown.learning = None if hops else f"{journeys} of {flow.learn_min_journeys} journeys"
    shown.support = support
    shown.learned_at = path.learned_at if path else None
    return shown
