"""The kinds of business ``churnscore sample-data --scenario`` can simulate: each a set of parameters for sample.py.

A scenario does not carry code: it says which exports exist, who the customers are, how long a contract
runs, what drives churn and which warning signs a leaving account shows, and with what probability. The
generator in sample.py reads these values; ``b2b`` holds the values the committed sample was made with, so
it stays byte-identical. data/sample/README.md ("Scenarios") describes each one in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

__all__ = ["Scenario", "SCENARIOS", "SCENARIO_NAMES", "DEFAULT_SCENARIO", "scenario"]

ALL_TABLES = ("accounts", "usage", "nps", "tickets", "payments")

# Warning signs of a voluntary churner: the probability that a leaving account shows each one in the 30-120
# days before it leaves (the b2b sample's values). nps_detractor / nps_silent and tix_storm / tix_stop are
# exclusive modes (the rest of the leavers answer surveys and write tickets as before, slightly unhappier).
_B2B_SIGNS = {
    "decay": 0.80,          # usage decays towards the churn day
    "team": 0.60,           # users go quiet one by one
    "key": 0.50,            # key features abandoned
    "session": 0.45,        # very short sessions or tasks that take far longer than usual
    "nps_detractor": 0.50,  # answers surveys as a detractor
    "nps_silent": 0.30,     # stops answering surveys
    "tix_storm": 0.40,      # a storm of tickets on one recurring category
    "tix_stop": 0.25,       # writes often, then stops writing at all
    "payment_method": 0.25,
    "late": 0.30,           # pays late
    "auto_off": 0.55,       # switches auto-renew off
    "downgrade": 0.30,
}

# The same signs at accounts that stay (false alarms), b2b values.
_B2B_FALSE_ALARMS = {
    "key": 0.05, "session": 0.05, "payment_method": 0.03, "late": 0.02, "downgrade": 0.04,
    "upgrade": 0.08,        # seats or plan up, among accounts with no downgrade
    "auto_never": 0.12,     # an account that stays and never had auto-renew on
}


def _frozen(d: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class Scenario:
    """One kind of business. Defaults are the b2b sample's values."""

    name: str
    summary: str
    tables: tuple[str, ...] = ALL_TABLES
    consumer: bool = False                     # one plan, 1-3 seats, card payments; else the B2B mix
    contract_months: int | None = None         # None: the billing cycle is the contract; 12: yearly terms
    billing: str = "mixed"                     # "mixed": annual invoices for some segments; "monthly": all
    hazard: tuple[float, float, float] = (0.048, 0.025, 0.012)   # monthly churn hazard by segment
    tenure_hazard: tuple[float, float] | None = None  # (extra monthly hazard at signup, its decay in days)
    engage_sd: float = 0.45                    # spread of accounts' usage level
    engage_risk: float = 0.20                  # how much the latent risk lowers usage level
    p_invol: tuple[float, float, float] = (0.40, 0.20, 0.0)  # leavers by failed payment: card, ach, invoice
    fail_new: bool = True                      # new accounts that never get going and leave in 20-70 days
    independent_churn: bool = False            # churn drawn at random, the story only shapes the inputs
    random_hazard: float = 0.02                # monthly hazard of that random churn
    signs: Mapping[str, float] = field(default_factory=lambda: _frozen(_B2B_SIGNS))
    false_alarms: Mapping[str, float] = field(default_factory=lambda: _frozen(_B2B_FALSE_ALARMS))


def _signs(**changes: float) -> Mapping[str, float]:
    unknown = set(changes) - set(_B2B_SIGNS)
    if unknown:
        raise KeyError(f"unknown warning signs: {sorted(unknown)}")
    return _frozen({**_B2B_SIGNS, **changes})


def _false_alarms(**changes: float) -> Mapping[str, float]:
    unknown = set(changes) - set(_B2B_FALSE_ALARMS)
    if unknown:
        raise KeyError(f"unknown false alarms: {sorted(unknown)}")
    return _frozen({**_B2B_FALSE_ALARMS, **changes})


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("b2b", "mixed B2B SaaS: monthly and annual contracts, leavers decline for 30-120 days first"),
    Scenario(
        "contract",
        "contract-gated B2B: yearly terms billed monthly, churn only on the renewal date",
        contract_months=12, billing="monthly",
        hazard=(0.024, 0.014, 0.008),
        engage_risk=0.05,
        p_invol=(0.0, 0.0, 0.0), fail_new=False,
        signs=_signs(decay=0.15, team=0.10, key=0.10, session=0.05, nps_detractor=0.30, nps_silent=0.20,
                     tix_storm=0.15, tix_stop=0.10, payment_method=0.05, late=0.10, auto_off=0.40,
                     downgrade=0.05),
        # many customers that stay renew by hand (procurement), so auto-renew off is common among them too
        false_alarms=_false_alarms(auto_never=0.25),
    ),
    Scenario(
        "consumer",
        "consumer-like: one monthly plan, 1-3 seats, churn by low use and short tenure, no decline first",
        tables=("accounts", "usage", "payments"),
        consumer=True, billing="monthly",
        hazard=(0.022, 0.022, 0.022), tenure_hazard=(0.10, 75.0),
        engage_sd=0.35, engage_risk=0.45,
        p_invol=(0.20, 0.0, 0.0), fail_new=False,
        signs=_signs(decay=0.0, team=0.0, key=0.0, session=0.0, nps_detractor=0.0, nps_silent=0.0,
                     tix_storm=0.0, tix_stop=0.0, payment_method=0.0, late=0.0, auto_off=0.0,
                     downgrade=0.0),
        false_alarms=_false_alarms(payment_method=0.0, downgrade=0.0, upgrade=0.0, auto_never=0.0),
    ),
    Scenario(
        "noise",
        "the b2b exports, but who leaves and when is drawn at random, independent of every input",
        independent_churn=True,
    ),
)}

SCENARIO_NAMES = tuple(SCENARIOS)
DEFAULT_SCENARIO = "b2b"


def scenario(name: str) -> Scenario:
    """The scenario called ``name``; ValueError naming the choices for another name."""
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}: use one of {', '.join(SCENARIO_NAMES)}") from None
