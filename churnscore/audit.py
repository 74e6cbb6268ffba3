"""The rule audit: each rule on the team's own history (the backtest's training snapshots), how often it fired
and how the accounts it flagged fared, with warnings for rules that do not earn their place.

On every (observation date, account) row of the snapshots: the share of rows the rule fired on, the churn rate
within the horizon when it fired and when it did not, and its lift (churn rate when fired / the base rate).
Warnings: "inverted" (the accounts it flagged churned less than the rest), "fires on most accounts" (more than
half of the rows), "never fires".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from . import words
from .config import RuleSpec

MOST = 0.5  # a rule firing on more than this share of the rows flags most accounts: not a red flag

INVERTED = "inverted"
FIRES_ON_MOST = "fires on most accounts"
NEVER_FIRES = "never fires"


@dataclass(frozen=True)
class RuleAudit:
    rule: str
    weight: float
    rows: int
    fired: int
    share: float  # of the rows
    churn_when_fired: float  # NaN when it never fired
    churn_when_not: float  # NaN when it fired on every row
    lift: float  # churn_when_fired / base rate; NaN without churners or firings
    warnings: tuple[str, ...]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["warnings"] = list(self.warnings)
        return {k: (None if isinstance(v, float) and v != v else v) for k, v in d.items()}


def audit_rules(flags: pd.DataFrame, y: np.ndarray, rules: tuple[RuleSpec, ...]) -> list[RuleAudit]:
    """Every rule (config order) on rows of flags (one bool column per rule) and churn labels ``y`` (1 = churned
    within the horizon)."""
    y = np.asarray(y, dtype="float64")
    n = len(y)
    base = y.mean() if n else np.nan
    out = []
    for r in rules:
        f = flags[r.name].to_numpy(dtype=bool) if r.name in flags else np.zeros(n, dtype=bool)
        k = int(f.sum())
        on = y[f].mean() if k else np.nan
        off = y[~f].mean() if k < n else np.nan
        lift = on / base if k and base > 0 else np.nan
        warnings = []
        if k == 0:
            warnings.append(NEVER_FIRES)
        elif k < n and on < off:
            warnings.append(INVERTED)
        if n and k / n > MOST:
            warnings.append(FIRES_ON_MOST)
        out.append(RuleAudit(r.name, r.weight, n, k, k / n if n else np.nan, float(on), float(off), float(lift),
                             tuple(warnings)))
    return out


def audit_text(audit: list[RuleAudit]) -> str:
    """The audit as a fixed-width table, one rule a line, its warnings at the end."""
    rows = audit[0].rows if audit else 0
    lines = [f"rules on the training snapshots ({rows:,} rows; churn within the horizon):",
             f"{'rule':<28} {'weight':>6} {'fired':>7} {'churn fired':>11} {'churn not':>9} {'lift':>6}  warning"]
    for a in audit:
        lines.append(f"{a.rule:<28} {words.decimals(a.weight, 2):>6} {words.share(a.share):>7} "
                     f"{words.share(a.churn_when_fired):>11} {words.share(a.churn_when_not):>9} "
                     f"{words.times(a.lift):>6}  {', '.join(a.warnings)}".rstrip())
    return "\n".join(lines)
