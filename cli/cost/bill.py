"""A month of usage as terms (what causes it, how much), priced into a bill per service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cli.cost.prices import PriceList

SERVICES = (
    "Firestore",
    "Cloud Run functions",
    "Pub/Sub",
    "Cloud Tasks",
    "BigQuery",
    "Cloud Scheduler",
    "Cloud Logging",
    "Eventarc",
)


@dataclass(frozen=True)
class Term:
    """`quantity` units of the price `meter` a month, caused by what `label` says."""

    meter: str
    label: str
    quantity: float


@dataclass(frozen=True)
class PricedTerm:
    term: Term
    service: str
    cost: float


@dataclass(frozen=True)
class Bill:
    """One design's monthly bill, term by term."""

    design: str
    terms: tuple[PricedTerm, ...]

    @property
    def total(self) -> float:
        return sum(term.cost for term in self.terms)

    def by_service(self) -> dict[str, float]:
        """Cost per service, every service of `SERVICES` present (0 when unused)."""
        totals = dict.fromkeys(SERVICES, 0.0)
        for term in self.terms:
            totals[term.service] = totals.get(term.service, 0.0) + term.cost
        return totals

    def largest(self, count: int) -> list[PricedTerm]:
        """The `count` most expensive terms, most expensive first."""
        return sorted(self.terms, key=lambda term: term.cost, reverse=True)[:count]

    @property
    def dominant(self) -> PricedTerm | None:
        top = self.largest(1)
        return top[0] if top and top[0].cost > 0 else None


def price(design: str, terms: Sequence[Term], prices: PriceList) -> Bill:
    """Price every term at list price; terms of the same meter and label are merged."""
    merged: dict[tuple[str, str], float] = {}
    for term in terms:
        if term.quantity:
            merged[(term.meter, term.label)] = merged.get((term.meter, term.label), 0.0) + (
                term.quantity
            )
    priced = []
    for (meter, label), quantity in merged.items():
        unit_price = prices[meter]
        priced.append(
            PricedTerm(Term(meter, label, quantity), unit_price.service, unit_price.cost(quantity))
        )
    return Bill(design, tuple(priced))
