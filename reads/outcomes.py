"""Reading outcomes: items received but not stored as events, counted by kind and reason."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reads import schemas
from store.models import ItemOutcome


def outcome_totals(*, session: Session) -> schemas.OutcomeList:
    query = select(
        ItemOutcome.outcome,
        ItemOutcome.category,
        ItemOutcome.reason,
        func.sum(ItemOutcome.quantity).label("quantity"),
    ).group_by(ItemOutcome.outcome, ItemOutcome.category, ItemOutcome.reason)
    return schemas.OutcomeList(
        outcomes=[
            schemas.OutcomeTotal(
                outcome=r.outcome, category=r.category, reason=r.reason, quantity=int(r.quantity)
            )
            for r in session.execute(query.order_by(ItemOutcome.outcome, ItemOutcome.category))
        ]
    )
