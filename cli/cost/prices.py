"""The price list (prices.json): each price with its unit, source, date, and confirmation."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from shared.errors import ConfigError

PRICES_FILE = "prices.json"
_FIELDS = ("service", "value", "per", "unit", "source", "taken", "confirmed", "free_tier", "note")


@dataclass(frozen=True)
class Price:
    """`value` USD per `per` units of `unit`, as read at `source` on `taken`."""

    key: str
    service: str
    value: float
    per: float
    unit: str
    source: str
    taken: str
    confirmed: bool
    free_tier: str
    note: str

    def cost(self, quantity: float) -> float:
        """The list price of `quantity` units (free tiers are not subtracted)."""
        return quantity / self.per * self.value


@dataclass(frozen=True)
class PriceList:
    """Every price the model uses, for one region."""

    region: str
    currency: str
    free_tiers: str
    prices: Mapping[str, Price]

    def __getitem__(self, key: str) -> Price:
        return self.prices[key]

    @property
    def unconfirmed(self) -> list[Price]:
        return [price for price in self.prices.values() if not price.confirmed]


def parse_prices(data: Mapping[str, Any]) -> PriceList:
    """Build the price list from the file's JSON; raises `ConfigError` naming a bad entry."""
    prices: dict[str, Price] = {}
    for key, entry in data.get("prices", {}).items():
        missing = [name for name in _FIELDS if name not in entry]
        if missing:
            raise ConfigError(f"prices.{key}", f"lacks {', '.join(missing)}")
        if not str(entry["source"]).startswith("https://"):
            raise ConfigError(f"prices.{key}.source", "must be the URL of a public pricing page")
        if float(entry["per"]) <= 0 or float(entry["value"]) < 0:
            raise ConfigError(f"prices.{key}", "needs a positive `per` and a value of at least 0")
        prices[key] = Price(key, **{name: entry[name] for name in _FIELDS})
    return PriceList(
        region=str(data.get("region", "")),
        currency=str(data.get("currency", "USD")),
        free_tiers=str(data.get("free_tiers", "")),
        prices=prices,
    )


def load_prices(path: Path | None = None) -> PriceList:
    """The packaged price list, or the one at `path`."""
    if path is None:
        text = resources.files("cli.cost").joinpath(PRICES_FILE).read_text(encoding="utf-8")
    else:
        text = path.read_text(encoding="utf-8")
    return parse_prices(json.loads(text))
