"""Key features found in the data: the login event and the events whose regular use goes with staying.

From history only, on the snapshots `train` uses (model.observation_dates; each account active on a date,
labelled by churn within the horizon after it):

- **Login event**: the event present on the largest share of active account-days (days on which the account
  has any usage row), up to the as-of date. A login (or session start) is the event nearly every active day
  has; a feature is used on some days only. Ties go to the first name in alphabetical order.
- **Key features**: for each other event, its *regular use* on each snapshot date: the share of the account's
  active weeks, in the short window (windows.short_days; the window key_feature_adoption looks at) before the
  date, with the event. (On data/sample the short window puts the three key features the generator made on
  top; over 90 days every event's regular use mostly measures how active the account is.) Accounts without an
  active week there are left out (they use nothing; dormancy rules speak for them), so what is measured is
  the event's use among accounts that use the product. The events are ranked by single-feature ROC AUC of
  that share for staying (1 = the accounts that stayed used it more regularly than every one that left;
  0.5 = no separation), among the events used by at least MIN_SHARE of the account-snapshots; the best
  KEY_COUNT with AUC at least MIN_AUC are proposed.

Only the MAX_EVENTS events on the most active account-days are looked at, so a product with thousands of
event names costs a bounded table per snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import words
from .config import Config
from .errors import ModelError
from .features import account_codes
from .load import Loaded
from .model import observation_dates, roc_auc
from .universe import universe

MIN_SHARE = 0.10  # share of account-snapshots (with an active week) that must use an event for it to count
MIN_AUC = 0.55  # below this an event separates stayers from leavers hardly better than chance
KEY_COUNT = 3
MAX_EVENTS = 50
USAGE_COLUMNS = ["account_id", "timestamp", "event"]


@dataclass(frozen=True)
class EventFigures:
    event: str
    day_share: float  # share of active account-days with the event
    used_share: float = float("nan")  # share of account-snapshots with an active week that used it
    roc_auc: float = float("nan")  # of its regular use, for staying
    churn_users: float = float("nan")  # churn rate within the horizon of the snapshots that used it
    churn_others: float = float("nan")  # ... and of those that did not


@dataclass
class Discovery:
    login_event: str | None
    login_share: float
    key_features: list[str]
    events: list[EventFigures]  # login first by day share, then by AUC (the ones that could not be ranked last)
    snapshots: int
    rows: int
    churners: int
    window_days: int
    notes: list[str] = field(default_factory=list)

    def config_lines(self) -> str:
        """The lines to paste into a config's features section."""
        keys = ", ".join(self.key_features)
        return f"features:\n  login_event: {self.login_event}\n  key_features: [{keys}]"


def usage_pieces(loaded: Loaded) -> Iterator[pd.DataFrame]:
    """The usage export's account, timestamp and event columns, in pieces that each hold whole accounts (the
    parts of a spilled export, else the one frame)."""
    spill = loaded.spilled.get("usage")
    if spill is None:
        yield loaded.frame("usage")[USAGE_COLUMNS]
        return
    for part in range(spill.parts):
        yield spill.part(part, columns=USAGE_COLUMNS)


def _event_codes(events: pd.Series, names: pd.Index) -> np.ndarray:
    """Each row's event as its position in ``names`` (-1: not among them, or none); categoricals by category."""
    if isinstance(events.dtype, pd.CategoricalDtype):
        lookup = np.append(names.get_indexer(events.cat.categories.astype("str")), -1)
        return lookup[events.cat.codes.to_numpy()]
    return names.get_indexer(events.astype("str").where(events.notna(), None))


def _codes_and_names(events: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes of the events (-1: none) and the name of each code; categoricals as they are."""
    if isinstance(events.dtype, pd.CategoricalDtype):
        return events.cat.codes.to_numpy().astype("int64"), [str(c) for c in events.cat.categories]
    codes, names = pd.factorize(events, use_na_sentinel=True)
    return codes.astype("int64"), [str(c) for c in names]


def _days(timestamps: pd.Series) -> np.ndarray:
    return timestamps.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype("int64")


def event_day_shares(pieces, as_of: pd.Timestamp) -> pd.Series:  # noqa: ANN001
    """Share of active account-days (up to the as-of date) on which each event occurs, highest first, then by
    name. ``pieces``: usage frames (account_id, timestamp, event) that each hold whole accounts."""
    last = np.datetime64(pd.Timestamp(as_of).normalize().date(), "D").astype("int64")
    days_total = 0
    counts: dict[str, int] = {}
    for u in pieces:
        day = _days(u["timestamp"])
        keep = (day <= last) & u["account_id"].notna().to_numpy()
        if not keep.any():
            continue
        acc = pd.factorize(u["account_id"].to_numpy()[keep])[0].astype("int64")
        day = day[keep] - day[keep].min()
        width = int(day.max()) + 1
        account_day = acc * width + day
        days_total += len(pd.unique(account_day))
        ev_codes, names = _codes_and_names(u["event"])
        ev_codes = ev_codes[keep]
        has = ev_codes >= 0
        if not has.any():
            continue
        triples = pd.unique(account_day[has] * len(names) + ev_codes[has])
        for name, k in zip(names, np.bincount(triples % len(names), minlength=len(names))):
            counts[name] = counts.get(name, 0) + int(k)
    if not days_total:
        return pd.Series([], dtype="float64", index=pd.Index([], dtype="str"))
    shares = pd.Series(counts, dtype="float64") / days_total
    order = sorted(shares.index, key=lambda e: (-shares[e], e))
    return shares.reindex(order)


def regular_use(pieces, index: pd.Index, as_of: pd.Timestamp, window_days: int,  # noqa: ANN001
                events: pd.Index) -> pd.DataFrame:
    """Per account of ``index`` (rows) and event of ``events`` (columns): the share of the account's active
    weeks in the ``window_days`` days up to the as-of date (week k: days 7k to 7k+6 before it) with the
    event; NaN for an account without an active week there."""
    n, e = len(index), len(events)
    weeks = -(-window_days // 7)
    last = np.datetime64(pd.Timestamp(as_of).normalize().date(), "D").astype("int64")
    active = np.zeros(n)
    with_event = np.zeros(n * e)
    for u in pieces:
        age = last - _days(u["timestamp"])
        keep = (age >= 0) & (age < window_days)
        codes = account_codes(u["account_id"], index)
        keep &= codes >= 0
        if not keep.any():
            continue
        codes, week = codes[keep].astype("int64"), age[keep] // 7
        account_week = pd.unique(codes * weeks + week)
        active += np.bincount(account_week // weeks, minlength=n)
        ev = _event_codes(u["event"], events)[keep]
        has = ev >= 0
        triples = pd.unique((codes[has] * e + ev[has]) * weeks + week[has])
        with_event += np.bincount(triples // weeks, minlength=n * e)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = with_event.reshape(n, e) / active[:, None]
    share[active == 0] = np.nan
    return pd.DataFrame(share, index=index, columns=events)


def discover(loaded: Loaded, config: Config, as_of: pd.Timestamp, *, min_share: float = MIN_SHARE,
             min_auc: float = MIN_AUC, count: int = KEY_COUNT) -> Discovery:
    """The login event and key features of this history up to ``as_of``, a normalised day (AsOf.day; see the
    module's note)."""
    shares = event_day_shares(usage_pieces(loaded), as_of)
    if shares.empty:
        raise ModelError("finding key features needs usage rows with an event; the usage export has none.")
    login = str(shares.index[0])
    dates = observation_dates(loaded, as_of, config)
    if "accounts" not in loaded.frames or loaded.frames["accounts"]["churn_date"].notna().sum() == 0:
        raise ModelError("finding key features needs an accounts export with churn_date for the accounts that "
                         "churned.")
    acc = loaded.frames["accounts"].drop_duplicates("account_id").set_index("account_id")
    candidates = pd.Index([e for e in shares.index[:MAX_EVENTS] if e != login], dtype="str")
    window = config.windows.short_days
    horizon = pd.Timedelta(days=config.model.horizon_days)
    parts, ys = [], []
    for d in dates:
        index = universe(loaded, d).index
        if not len(index):
            continue
        parts.append(regular_use(usage_pieces(loaded), index, d, window, candidates).to_numpy())
        churn = acc["churn_date"].reindex(index)
        ys.append(((churn > d) & (churn <= d + horizon)).to_numpy())
    notes = []
    if not parts:
        notes.append(f"no snapshot date fits before {as_of.date()} (history shorter than min_history_days + "
                     "horizon_days): no key features proposed.")
        figures = [EventFigures(str(e), float(shares[e])) for e in shares.index[:MAX_EVENTS]]
        return Discovery(login, float(shares[login]), [], figures, 0, 0, 0, window, notes)
    R = np.vstack(parts)
    y = np.concatenate(ys)
    active = ~np.isnan(R[:, 0]) if len(candidates) else np.zeros(len(y), bool)
    ranked = []
    for j, name in enumerate(candidates):
        r, yy = R[active, j], y[active]
        used = r > 0
        ranked.append(EventFigures(
            str(name), float(shares[name]), float(used.mean()) if len(r) else float("nan"),
            roc_auc((~yy).astype("int64"), r) if used.any() and yy.any() and (~yy).any() else float("nan"),
            float(yy[used].mean()) if used.any() else float("nan"),
            float(yy[~used].mean()) if (~used).any() else float("nan")))
    ranked.sort(key=lambda f: (np.isnan(f.roc_auc), -np.nan_to_num(f.roc_auc), f.event))
    keys = [f.event for f in ranked if f.used_share >= min_share and f.roc_auc >= min_auc][:count]
    if not keys:
        notes.append(f"no event used by {words.share(min_share, 0)} of the accounts separates those that stayed from "
                     f"those that left (ROC AUC {words.decimals(min_auc, 2)} or more): no key features proposed.")
    figures = [EventFigures(login, float(shares[login]))] + ranked
    return Discovery(login, float(shares[login]), keys, figures, len(parts), int(active.sum()), int(y[active].sum()),
                     window, notes)


def discovery_text(d: Discovery) -> str:
    """The proposal in words, with each event's figures, then the config lines to paste."""
    lines = [f"key features found in the history ({d.snapshots} snapshots, {d.rows:,} account-snapshots with "
             f"usage, {d.churners:,} churned within the horizon):",
             f"  login event: {d.login_event} (on {words.share(d.login_share, 0)} of active account-days)",
             f"  regular use = share of active weeks with the event in the {d.window_days} days before a "
             "snapshot; AUC = how well it separates accounts that stayed (1.0 perfect, 0.5 none)"]
    width = max([len(f.event) for f in d.events[1:]] + [5])
    for f in d.events[1:]:
        mark = "  <- key" if f.event in d.key_features else ""
        churn = (f"; churned {words.share(f.churn_users)} of users vs {words.share(f.churn_others)} of the rest"
                 if not (np.isnan(f.churn_users) or np.isnan(f.churn_others)) else "")
        lines.append(f"    {f.event:<{width}}  used by {words.share(f.used_share, 0):>4}, "
                     f"AUC {words.decimals(f.roc_auc, 2, 'n/a')}{churn}{mark}")
    lines += [f"  {note}" for note in d.notes]
    lines += ["  to use them, paste into the config (replacing login_event and key_features):", "",
              d.config_lines()]
    return "\n".join(lines)


def propose(loaded: Loaded, config: Config, as_of: pd.Timestamp) -> tuple[Discovery | None, str]:
    """discover and its words, for train and validate --history: when the history cannot say (no events, no
    churn dates, too short), no Discovery and one line saying why, rather than a failed command."""
    from .errors import ChurnscoreError

    try:
        found = discover(loaded, config, as_of)
    except ChurnscoreError as exc:
        return None, f"key features: none proposed ({exc})"
    return found, discovery_text(found)
