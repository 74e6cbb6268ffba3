"""Synthetic SaaS exports for churnscore: the committed sample data and benchmark inputs.

``generate`` builds the five exports of the input contract (accounts, usage, nps, tickets,
payments) for a made-up SaaS company; ``write_sample`` writes them as CSV, gzipped CSV or
Parquet.  Everything is drawn from ``numpy.random.default_rng`` seeded from ``seed``, so the
same arguments always give the same frames and byte-identical files.

The story behind the numbers
----------------------------
Every account gets a latent risk, an engagement level and a latent churn day (which may lie
beyond ``end_date``).  Churn comes in three kinds:

* voluntary: for 30-120 days before the churn day the account shows, each with its own
  probability, usage decay, a team going quiet user by user, key features abandoned, short
  or "stuck" sessions, detractor NPS or survey silence, a ticket storm on one recurring
  category or a sudden stop of tickets, a payment-method change, late payments, auto-renew
  switched off and a downgrade; it leaves on a billing date (renewal for annual contracts);
* involuntary: usage stays normal, but card charges start failing (expired card,
  declined, insufficient funds) and the account is gone after the dunning period;
* failed new accounts: short first sessions, few logins, key features barely touched, gone
  within 20-70 days of signing up.

Healthy accounts produce false alarms with small probabilities: holiday dips, one admin away,
a dip-and-recovery, passive NPS, a one-off failed charge that is then paid, a burst of how-to
tickets from a new customer, a short bug streak, a downgrade or a payment-method change.
Accounts whose latent churn day lies just beyond ``end_date`` are declining at the end of the
history without a churn_date: those are the ones a scorer should find.

Scenarios (churnscore.synth.scenarios) change the parameters of this story, not its code: the contract
term (yearly renewals billed monthly), the hazard (by tenure), how strongly each warning sign goes
with leaving, which exports exist, or churn drawn independently of the story.  Their draws come
from separate streams, so the default scenario, "b2b", gives the same bytes as before.

Point in time: the usage, nps, tickets and payments rows are events with their own dates;
the accounts table is a snapshot taken at ``end_date`` (for churned accounts: the state at
churn), so plan, mrr, seats, auto_renew and renewal_date describe that moment.
"""

from __future__ import annotations

import datetime
import gzip
import io
import pathlib

import numpy as np
import pandas as pd

from ..contract import EXPORTS
from .scenarios import DEFAULT_SCENARIO, Scenario, scenario as _scenario

__all__ = [
    "SAMPLE_END_DATE",
    "TABLES",
    "COLUMNS",
    "EVENTS",
    "LOGIN_EVENT",
    "KEY_FEATURES",
    "generate",
    "write_sample",
]

SAMPLE_END_DATE = datetime.date(2026, 10, 31)

TABLES = ("accounts", "usage", "nps", "tickets", "payments")

COLUMNS = {name: [c.name for c in EXPORTS[name].columns] for name in TABLES}  # the contract's order

# Columns holding a date (YYYY-MM-DD) and a UTC datetime (YYYY-MM-DDTHH:MM:SSZ).
_DATE_COLUMNS = {"signup_date", "renewal_date", "churn_date", "due_date", "card_expiry"}
_DATETIME_COLUMNS = {"timestamp", "responded_at", "created_at", "resolved_at", "paid_at"}

LOGIN_EVENT = "login"
KEY_FEATURES = ("report_created", "dashboard_viewed", "integration_sync")

# name: (key feature, chance per active user-day, mean extra count, median seconds, sigma)
# login is present on every active user-day; its duration is the session length.
_EVENT_SPEC = {
    "login":            (False, 1.00, 1.0, 300.0, 0.55),
    "dashboard_viewed": (True,  0.45, 1.5, 25.0, 0.50),
    "report_created":   (True,  0.25, 0.8, 25.0, 0.45),
    "integration_sync": (True,  0.20, 3.0, 15.0, 0.40),
    "search":           (False, 0.25, 2.0, 6.0, 0.50),
    "export_csv":       (False, 0.08, 0.5, 12.0, 0.45),
    "comment_added":    (False, 0.12, 1.0, 35.0, 0.60),
    "invite_sent":      (False, 0.02, 0.5, 15.0, 0.40),
    "api_call":         (False, 0.08, 20.0, 0.4, 0.50),
    "settings_changed": (False, 0.04, 0.3, 20.0, 0.50),
    "file_uploaded":    (False, 0.08, 0.5, 18.0, 0.50),
}
EVENTS = tuple(_EVENT_SPEC)

_PLANS = np.array(["starter", "growth", "pro", "enterprise"])
_PLAN_PRICE = np.array([12.0, 25.0, 45.0, 70.0])      # per seat and month
_PLAN_MIN = np.array([19.0, 49.0, 199.0, 999.0])      # monthly minimum
_SEGMENTS = np.array(["SMB", "mid-market", "enterprise"])
_METHODS = np.array(["card", "ach", "invoice"])
_CATEGORIES = np.array(["how-to", "bug", "billing", "integration", "performance", "access",
                        "feature-request", "data-import"])
_CAT_P = np.array([0.30, 0.20, 0.10, 0.12, 0.08, 0.08, 0.07, 0.05])
_RECURRING = np.array([1, 3, 4, 7])                   # bug, integration, performance, data-import
_PRIORITIES = np.array(["low", "normal", "high", "urgent"])
_REASONS = np.array(["card_declined", "expired_card", "insufficient_funds"])

_BIG = 10 ** 7                  # "never" as a day offset
_DAY = 86400
_NATURAL_ROWS_PER_ACCOUNT_YEAR = 420     # only used to size chunks
_CHUNK_ROWS = 1_500_000                  # target usage rows per generation chunk
_BASE_ACTIVE_RATE = 0.30                 # chance a typical user is active on a weekday

_NAME_A = np.array([
    "Acme", "Globex", "Initech", "Umbrella", "Northwind", "Blue Harbor", "Stark", "Wayne",
    "Hooli", "Vandelay", "Pied Piper", "Soylent", "Cyberdyne", "Tyrell", "Wonka", "Gringotts",
    "Oceanic", "Massive Dynamic", "Aperture", "Black Mesa", "Sterling", "Dunder", "Bluth",
    "Prestige", "Monarch", "Atlas", "Nimbus", "Quantum", "Silver Lake", "Red Rock", "Evergreen",
    "Summit", "Lighthouse", "Copperfield", "Brightside", "Iron Bridge", "Granite", "Maple",
    "Orchard", "Harbor Point", "Keystone", "Riverbend", "Sunrise", "Pinnacle", "Cobalt",
    "Falcon", "Juniper", "Meridian", "Northstar", "Westfield", "Crescent", "Foxglove",
    "Helios", "Kestrel", "Lumen", "Nordic", "Pioneer", "Sequoia", "Tidewater", "Zenith",
])
_NAME_B = np.array([
    "", " Analytics", " Logistics", " Health", " Foods", " Robotics", " Media", " Capital",
    " Software", " Energy", " Retail", " Studios", " Consulting", " Labs", " Systems",
    " Dental", " Legal", " Travel", " Insurance", " Manufacturing", " Education", " Realty",
])
_NAME_C = np.array([
    " Inc.", " LLC", " Ltd", " GmbH", " Group", " Co.", "", " & Co.", " Partners", " AG",
    " S.A.", " B.V.", " Holdings", " Corp.",
])
_SPECIAL_NAMES = ["=Acme Holdings", "-Minus Labs", "+Plus Partners", "@Mention Media",
                  "=SUM(A1:A9) Traders", "Smith, Jones & Partners", "Müller & Söhne GmbH",
                  "O'Reilly \"Big\" Data"]

_COMMENTS = (
    # detractors (0-6)
    np.array(["Too expensive for what we get", "Reports are slow, and exports keep failing",
              "Support takes days to answer", "We are moving to another tool",
              "The integration breaks every week", "Hard to use", "Missing features we need",
              "Nobody on the team uses it anymore", "Billing is confusing",
              "Buggy since the last update", "Not worth the price"]),
    # passives (7-8)
    np.array(["Does the job", "Good, but the reports could be faster", "OK overall",
              "Fine, a bit pricey", "Useful, needs better onboarding",
              "Works, but the UI is clunky", "Decent product", "Mostly happy"]),
    # promoters (9-10)
    np.array(["Love it", "Great support team", "Our team uses it every day",
              "Saves us hours every week", "Dashboards are fantastic", "\"Best tool we have\"",
              "Easy to use, great integrations", "Indispensable"]),
)


# --------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------

def _window(end_date: datetime.date, months: int) -> tuple[np.datetime64, int]:
    """First day of the history and its length in days (the window ends at end_date)."""
    end = pd.Timestamp(end_date)
    start = end - pd.DateOffset(months=int(months)) + pd.Timedelta(days=1)
    return np.datetime64(start.date(), "D"), int((end - start).days) + 1


def _month_start_day(m: np.ndarray, base: np.datetime64) -> np.ndarray:
    """Day offset (from base) of the first day of month index m (months since 1970-01)."""
    return (m.astype("datetime64[M]").astype("datetime64[D]") - base).astype(np.int64)


def _day_month(day: np.ndarray, base: np.datetime64) -> np.ndarray:
    return (base + day).astype("datetime64[M]").astype(np.int64)


def _due_day(m, dom, base):
    return _month_start_day(m, base) + dom - 1


def _first_due_month(day, dom, anchor, annual, base):
    """Month index of the first billing date on or after `day`."""
    m = _day_month(day, base)
    m = np.where(_due_day(m, dom, base) < day, m + 1, m)
    return np.where(annual, m + (anchor - m) % 12, m)


def _last_due_month(day, dom, anchor, annual, base):
    """Month index of the last billing date on or before `day`."""
    m = _day_month(day, base)
    m = np.where(_due_day(m, dom, base) > day, m - 1, m)
    return np.where(annual, m - (m - anchor) % 12, m)


def _segment_offsets(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows repeated `counts` times: the group index of each row and its rank within."""
    counts = np.asarray(counts, dtype=np.int64)
    grp = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return grp, np.arange(len(grp)) - starts[grp]


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    if len(numbers) == 0:
        return np.array([], dtype=object)
    return np.char.add(prefix, np.char.zfill(np.asarray(numbers).astype(np.int64).astype(str), width))


def _str_col(values: np.ndarray, missing: np.ndarray | None = None) -> pd.arrays.ArrowStringArray:
    values = np.asarray(values, dtype=object)
    if missing is not None and missing.any():
        values = values.copy()
        values[missing] = None
    return pd.array(values, dtype="str")


def _dates(base: np.datetime64, day: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    d = (base + np.asarray(day, dtype=np.int64)).astype("datetime64[s]")
    if missing is not None:
        d = np.where(missing, np.datetime64("NaT", "s"), d)
    return pd.Series(d)


def _datetimes(epoch0: int, seconds: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    t = (np.asarray(seconds, dtype=np.int64) + epoch0).astype("datetime64[s]")
    if missing is not None:
        t = np.where(missing, np.datetime64("NaT", "s"), t)
    return pd.Series(t).dt.tz_localize("UTC")


class _World:
    """Account-level latent state shared by all the generators (arrays of length n)."""


# --------------------------------------------------------------------------------------
# accounts and their latent story
# --------------------------------------------------------------------------------------

def _build_world(n: int, months: int, seed: int, end_date: datetime.date,
                 sc: Scenario | None = None) -> _World:
    sc = sc if sc is not None else _scenario(DEFAULT_SCENARIO)
    if n < 1:
        raise ValueError("n_accounts must be >= 1")
    if months < 1:
        raise ValueError("months must be >= 1")
    rng = np.random.default_rng([seed, 0])
    W = _World()
    W.n, W.seed, W.sc = n, seed, sc
    W.base, W.D = _window(end_date, months)
    D = W.D
    W.epoch0 = int((W.base - np.datetime64("1970-01-01", "D")).astype(np.int64)) * _DAY
    W.idw = max(5, len(str(n)))

    # --- firmographics -------------------------------------------------------------------
    seg = rng.choice(3, n, p=[0.6, 0.3, 0.1])
    seats = np.where(
        seg == 0, np.minimum(1 + rng.geometric(0.22, n), 25),
        np.where(seg == 1, np.clip(np.round(rng.lognormal(np.log(30), 0.5, n)), 10, 250),
                 np.clip(np.round(rng.lognormal(np.log(180), 0.6, n)), 60, 3000))).astype(np.int64)
    u = rng.random(n)
    plan = np.select(
        [seg == 0, seg == 1],
        [np.searchsorted([0.55, 0.90, 1.0], u, side="right"),
         1 + np.searchsorted([0.40, 0.90, 1.0], u, side="right")],
        2 + np.searchsorted([0.30, 1.0], u, side="right"))
    plan = np.minimum(plan, 3)
    disc = rng.uniform(0.8, 1.0, n)
    W.seg, W.seats0, W.plan0, W.disc = seg, seats, plan, disc
    W.mrr0 = np.round(np.maximum(seats * _PLAN_PRICE[plan] * disc, _PLAN_MIN[plan]), 2)
    W.annual = rng.random(n) < np.array([0.15, 0.5, 0.85])[seg]
    n_users = np.select(
        [seg == 0, seg == 1],
        [np.clip(np.round(seats * rng.uniform(0.3, 0.8, n)), 1, 4),
         np.clip(np.round(np.sqrt(seats) * rng.uniform(0.6, 1.1, n)), 2, 10)],
        np.clip(np.round(np.sqrt(seats) * rng.uniform(0.5, 0.9, n)), 4, 18)).astype(np.int64)
    W.n_users = n_users
    W.user_offset = np.cumsum(n_users) - n_users
    W.uidw = max(6, len(str(int(n_users.sum()))))
    W.plan_names, W.segment_names, W.price, W.minimum = _PLANS, _SEGMENTS, _PLAN_PRICE, _PLAN_MIN
    if sc.consumer:   # drawn from a stream of its own: the b2b draws below stay as they were
        _consumer_firmographics(W, np.random.default_rng([seed, 0, 1]))
        seg, disc = W.seg, W.disc
    if sc.billing == "monthly":
        W.annual = np.zeros(n, dtype=bool)
    # the contract term: the billing cycle, or yearly renewals on the signup anniversary
    W.term_annual = W.annual if sc.contract_months is None else np.ones(n, dtype=bool)

    # --- names ---------------------------------------------------------------------------
    names = np.char.add(np.char.add(rng.choice(_NAME_A, n), rng.choice(_NAME_B, n)),
                        rng.choice(_NAME_C, n)).astype(object)
    comma = rng.random(n) < 0.02          # "Lee, Park & Partners"-style names
    if comma.any():
        k = int(comma.sum())
        names[comma] = np.char.add(np.char.add(rng.choice(_NAME_A, k), ", "),
                                   np.char.add(rng.choice(_NAME_A, k), " & Partners"))
    special = rng.permutation(n)[:len(_SPECIAL_NAMES)]
    for i, nm in zip(special, _SPECIAL_NAMES):
        names[i] = nm
    W.names = names

    # --- signup --------------------------------------------------------------------------
    recent = min(90, D)
    u = rng.random(n)
    new_recent = u < 0.13
    in_window = (u >= 0.13) & (u < 0.36) & (D > recent)
    signup = np.where(
        new_recent, D - recent + rng.integers(0, recent, n),
        np.where(in_window, rng.integers(0, max(D - recent, 1), n),
                 -rng.integers(1, 5 * 365, n)))
    W.signup = signup.astype(np.int64)
    sdate = W.base + W.signup
    W.dom = np.minimum((sdate - sdate.astype("datetime64[M]")).astype(np.int64) + 1, 28)
    W.anchor = sdate.astype("datetime64[M]").astype(np.int64) % 12

    # --- latent risk and churn -------------------------------------------------------------
    z = rng.standard_normal(n)
    W.z = z
    W.engage = np.exp(rng.normal(0.0, sc.engage_sd, n) - sc.engage_risk * z)
    pm0 = np.select(
        [seg == 0, seg == 1],
        [np.searchsorted([0.85, 0.95, 1.0], rng.random(n), side="right"),
         np.searchsorted([0.50, 0.70, 1.0], rng.random(n), side="right")],
        np.searchsorted([0.10, 0.40, 1.0], rng.random(n), side="right"))
    W.pm0 = np.zeros(n, dtype=np.int64) if sc.consumer else np.minimum(pm0, 2)

    hazard = np.array(sc.hazard)[seg] * np.exp(0.8 * z - 0.32)   # per month
    expo = np.maximum(W.signup + 45, 0)
    draw = rng.exponential(1.0, n)
    if sc.tenure_hazard is None:
        T = expo + np.ceil(draw * 30.44 / hazard).astype(np.int64)
    else:
        T = _tenure_churn_day(W.signup, draw, hazard, *sc.tenure_hazard)
    if sc.contract_months is not None:  # renew or leave on each anniversary: a fixed chance per term
        k = np.floor(draw / (hazard * sc.contract_months)).astype(np.int64)
        first = _first_due_month(expo, W.dom, W.anchor, W.term_annual, W.base)
        T = _due_day(first + sc.contract_months * k, W.dom, W.base)
    T = np.minimum(T, D + 3 * 365)
    p_invol = np.array(sc.p_invol)[W.pm0]
    kind = np.where(rng.random(n) < p_invol, 1, 0)
    fail_new = (W.signup >= 0) & (rng.random(n) < np.clip(0.16 * np.exp(0.6 * z - 0.18), 0, 0.6))
    kind = np.where(fail_new & sc.fail_new, 2, kind)
    # voluntary churn waits for the end of the contract term (a billing date where it is the contract)
    due_m = _first_due_month(T, W.dom, W.anchor, W.term_annual, W.base)
    due = _due_day(due_m, W.dom, W.base)
    dunning = rng.integers(14, 61, n)
    churn = np.select([kind == 0, kind == 1], [due, due + dunning],
                      W.signup + rng.integers(20, 71, n))
    W.kind, W.churn = kind, churn.astype(np.int64)
    W.fail_due = np.where(kind == 1, due, _BIG)
    # the story's churn day times every warning sign; it is also the day the account leaves, except where
    # churn is drawn independently of the story (noise)
    W.story_churn = W.churn
    if sc.independent_churn:
        r2 = np.random.default_rng([seed, 0, 2])
        gap = np.ceil(r2.exponential(1.0, n) * 30.44 / sc.random_hazard).astype(np.int64)
        W.churn = np.minimum(np.maximum(W.signup, 0) + gap, D + 3 * 365)
    W.churned = W.churn <= D - 1
    W.life_start = np.maximum(W.signup, 0)
    W.life_end = np.minimum(W.churn, D)            # exclusive

    # --- voluntary churn signals (take effect from the decline start) ----------------------
    vol = kind == 0
    L = (30 + 90 * np.sqrt(rng.random(n))).astype(np.int64)      # lead time, mean ~90 days
    ds = np.where(vol, W.story_churn - L, _BIG)
    W.ds, W.L = ds, np.where(vol, L, 1)

    def onset(p_vol, p_noise, frac=0.25):
        """Day a signal starts: in the decline for voluntary churners, anywhere for noise."""
        on = np.full(n, _BIG, dtype=np.int64)
        v = vol & (rng.random(n) < p_vol)
        on[v] = ds[v] + (rng.random(n)[v] * frac * L[v]).astype(np.int64)
        noise = ~v & (rng.random(n) < p_noise)
        on[noise] = rng.integers(-30, D, n)[noise]
        return on, noise

    sign, alarm = sc.signs, sc.false_alarms
    W.decay_on, _ = onset(sign["decay"], 0.0, frac=0.15)
    W.team_on = np.where(vol & (rng.random(n) < sign["team"]), ds, _BIG)
    W.key_on, _ = onset(sign["key"], alarm["key"])
    W.sess_on, _ = onset(sign["session"], alarm["session"])
    W.sess_kind = rng.integers(0, 2, n)          # 0: short sessions, 1: stuck on tasks
    W.stuck_mult = rng.uniform(4, 10, n)
    u = rng.random(n)
    det, sil = sign["nps_detractor"], sign["nps_detractor"] + sign["nps_silent"]
    W.nps_mode = np.where(vol, np.select([u < det, u < sil], [1, 2], 0), 0)  # 1 detr. 2 silent
    u = rng.random(n)
    storm, stop = sign["tix_storm"], sign["tix_storm"] + sign["tix_stop"]
    W.tix_mode = np.where(vol, np.select([u < storm, u < stop], [1, 2], 0), 0)  # 1 storm 2 stop
    W.recurring = rng.choice(_RECURRING, n)
    W.pm_on, _ = onset(sign["payment_method"], alarm["payment_method"])
    W.late_on, _ = onset(sign["late"], alarm["late"])
    auto_on, _ = onset(sign["auto_off"], 0.0)
    auto_on = np.where(~vol & (rng.random(n) < alarm["auto_never"]), -_BIG, auto_on)   # never had it on
    W.auto_off = auto_on
    down_on, _ = onset(sign["downgrade"], alarm["downgrade"], frac=0.8)
    up = (down_on >= _BIG) & (rng.random(n) < alarm["upgrade"])
    W.change_on = np.where(up, rng.integers(0, D, n), down_on)
    W.change_up = up

    # --- healthy-looking-bad noise ---------------------------------------------------------
    xmas = rng.random(n) < 0.5                   # half the dips are the Christmas break
    y0 = int(str(W.base)[:4])
    xmas_days = np.array([(np.datetime64(f"{y}-12-22") - W.base).astype(np.int64)
                          for y in range(y0 - 1, y0 + months // 12 + 2)])
    xd = xmas_days[(xmas_days > -20) & (xmas_days < D)]
    dip = rng.random(n) < 0.20
    dip_start = rng.integers(-10, D, n)
    if len(xd):
        dip_start = np.where(xmas, rng.choice(xd, n), dip_start)
    W.dip_on = np.where(dip, dip_start, _BIG)
    W.dip_off = W.dip_on + rng.integers(14, 22, n)
    fd = rng.random(n) < 0.06                    # dip over weeks, then recovery
    W.fd_on = np.where(fd, rng.integers(-20, D, n), _BIG)
    W.fd_len = rng.integers(20, 46, n)
    W.fd_off = W.fd_on + W.fd_len + rng.integers(20, 50, n)
    away = rng.random(n) < 0.12                  # the admin is away, the team carries on
    W.away_on = np.where(away, rng.integers(-10, D, n), _BIG)
    W.away_off = W.away_on + rng.integers(14, 36, n)
    W.oneoff_fail = rng.random(n) < 0.08
    # involuntary churners often had a failed charge (then paid) some months before
    W.soft_fail = (kind == 1) & (rng.random(n) < 0.5)
    W.soft_fail_day = W.fail_due - rng.integers(25, 120, n)
    W.howto_burst = (W.signup >= -30) & (rng.random(n) < 0.5)
    W.bug_on = np.where(rng.random(n) < 0.06, rng.integers(0, D, n), _BIG)
    W.bug_off = W.bug_on + rng.integers(20, 60, n)

    # --- per-account rates -----------------------------------------------------------------
    W.adopt = np.empty((n, len(EVENTS)))
    for j, (ev, (key, q, *_)) in enumerate(_EVENT_SPEC.items()):
        if ev == LOGIN_EVENT:
            W.adopt[:, j] = 1.0
        elif key:
            W.adopt[:, j] = np.where(rng.random(n) < 0.8, rng.uniform(0.7, 1.3, n), 0.06)
        else:
            W.adopt[:, j] = rng.lognormal(0.0, 0.5, n)
    W.speed = rng.lognormal(0.0, 0.2, n)         # how long this team's tasks take
    W.tz = rng.integers(-8, 10, n)               # hours from UTC
    W.nps_phase = rng.integers(0, 91, n)
    W.nps_resp = np.where(rng.random(n) < 0.25, 0.0, rng.beta(1.5, 3.0, n))
    W.nps_mu = 7.9 - 0.45 * z + rng.normal(0, 0.8, n)
    W.nps_det = rng.uniform(1.5, 5.5, n)
    W.tix_rate = (np.array([0.5, 1.2, 3.0])[seg] * rng.gamma(1.5, 1 / 1.5, n)
                  * np.exp(0.15 * z)) / 30.44    # tickets per day
    W.late_pay = rng.random(n) < 0.1
    W.exp_mode = (kind == 1) & (W.pm0 == 0) & (rng.random(n) < 0.55)
    W.card_exp0 = _day_month(np.zeros(n, dtype=np.int64), W.base) + rng.integers(-10, 48, n)
    fm = _day_month(W.fail_due.clip(max=D + 400), W.base)
    W.card_exp0 = np.where(W.exp_mode, fm - 1, W.card_exp0)
    W.pm1 = (W.pm0 + rng.integers(1, 3, n)) % 3

    # --- snapshot at end (or at churn) ------------------------------------------------------
    # (noise: everyone's as at the end date, so that not even the snapshot tells who left)
    snap = np.full(n, D - 1) if sc.independent_churn else W.life_end - 1
    changed = W.change_on <= snap
    down_plan = np.where(W.plan0 > 0, W.plan0 - 1, 0)
    down_seats = np.maximum(1, np.round(W.seats0 * rng.uniform(0.5, 0.8, n))).astype(np.int64)
    up_plan = np.where(rng.random(n) < 0.5, np.minimum(W.plan0 + 1, len(W.plan_names) - 1), W.plan0)
    up_seats = np.round(W.seats0 * rng.uniform(1.2, 1.6, n)).astype(np.int64)
    W.plan1 = np.where(up, up_plan, down_plan)
    W.seats1 = np.where(up, up_seats, np.where(W.plan0 > 0, W.seats0, down_seats))
    W.mrr1 = np.round(np.maximum(W.seats1 * W.price[W.plan1] * disc, W.minimum[W.plan1]), 2)
    W.snap_plan = np.where(changed, W.plan1, W.plan0)
    W.snap_seats = np.where(changed, W.seats1, W.seats0)
    W.snap_mrr = np.where(changed, W.mrr1, W.mrr0)
    W.snap_auto = ~(W.auto_off <= snap)
    after = np.full(n, D) if sc.independent_churn else np.where(W.churned, W.churn, D)
    W.renewal = _due_day(_first_due_month(after, W.dom, W.anchor, W.term_annual, W.base),
                         W.dom, W.base)
    W.ids = _ids("A", np.arange(1, n + 1), W.idw)
    return W


def _consumer_firmographics(W: _World, rng: np.random.Generator) -> None:
    """One plan, 1-3 seats (each seat a user), no discounts."""
    n = W.n
    W.seg = np.zeros(n, dtype=np.int64)
    W.seats0 = rng.choice(np.array([1, 2, 3]), n, p=[0.65, 0.25, 0.10]).astype(np.int64)
    W.plan0 = np.zeros(n, dtype=np.int64)
    W.disc = np.ones(n)
    W.plan_names, W.segment_names = np.array(["plus"]), np.array(["consumer"])
    W.price, W.minimum = np.array([6.0]), np.array([12.0])
    W.mrr0 = np.round(np.maximum(W.seats0 * W.price[0], W.minimum[0]), 2)
    W.n_users = W.seats0.copy()
    W.user_offset = np.cumsum(W.n_users) - W.n_users
    W.uidw = max(6, len(str(int(W.n_users.sum()))))


def _tenure_churn_day(signup: np.ndarray, draw: np.ndarray, late: np.ndarray, early: float,
                      decay_days: float) -> np.ndarray:
    """Day an account leaves under a monthly hazard late + early * exp(-tenure / decay_days) (per account
    ``late``; ``early`` scaled like it), given that it is still a customer on day 0; ``draw`` ~ Exp(1)."""
    scale = late / late.mean()
    t0 = np.maximum(-signup, 0).astype(float)

    def cum(t: np.ndarray) -> np.ndarray:   # cumulative hazard from signup to tenure t
        return (late * t + early * scale * decay_days * (1.0 - np.exp(-t / decay_days))) / 30.44

    target = cum(t0) + draw
    lo, hi = t0, t0 + draw * 30.44 / late + 1.0
    for _ in range(45):     # bisection: cum is increasing
        mid = (lo + hi) / 2
        below = cum(mid) < target
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return signup + np.ceil(hi).astype(np.int64)


def _accounts_frame(W: _World) -> pd.DataFrame:
    # the contract term: the scenario's, else the billing cycle's (billed once per term here)
    term = (np.full(W.n, W.sc.contract_months) if W.sc.contract_months is not None else np.where(W.annual, 12, 1))
    extra = {"contract_term_months": term.astype(np.int64)}
    return pd.DataFrame({
        "account_id": _str_col(W.ids),
        "account_name": _str_col(W.names),
        "plan": _str_col(W.plan_names[W.snap_plan]),
        "mrr": W.snap_mrr.astype(float),
        "seats": W.snap_seats.astype(np.int64),
        "signup_date": _dates(W.base, W.signup),
        "renewal_date": _dates(W.base, W.renewal),
        "auto_renew": W.snap_auto.astype(bool),
        "segment": _str_col(W.segment_names[W.seg]),
        "churn_date": _dates(W.base, np.where(W.churned, W.churn, 0), ~W.churned),
        **extra,
    })


# --------------------------------------------------------------------------------------
# users and usage
# --------------------------------------------------------------------------------------

class _Users:
    """The users of one chunk of accounts [lo, hi)."""


def _users(W: _World, lo: int, hi: int, chunk: int) -> _Users:
    rng = np.random.default_rng([W.seed, 1, chunk])
    U = _Users()
    nu = W.n_users[lo:hi]
    grp, idx = _segment_offsets(nu)
    acc = lo + grp
    m = len(acc)
    U.acc, U.idx = acc, idx
    U.num = W.user_offset[acc] + idx + 1
    founder = (idx == 0) | ((idx == 1) & (rng.random(m) < 0.5))
    join = W.signup[acc] + np.where(founder, 0, rng.exponential(60.0, m).astype(np.int64))
    leave = join + rng.exponential(1800.0, m).astype(np.int64)
    if W.sc.consumer:           # the subscriber and their household stay users while they pay
        leave = np.full(m, _BIG, dtype=np.int64)
    team = W.team_on[acc]
    quiet = team < _BIG
    span_q = np.maximum(W.story_churn[acc] - team, 1)
    leave_q = team + (rng.random(m) * span_q).astype(np.int64)
    leave = np.where(quiet, np.minimum(leave, leave_q), leave)
    U.start = np.maximum(join, W.life_start[acc])
    U.end = np.minimum(leave, W.life_end[acc])
    U.role = np.where(idx == 0, 1.6, rng.gamma(2.0, 0.45, m))
    U.rate = _BASE_ACTIVE_RATE * W.engage[acc] * U.role
    U.hour = np.clip(rng.normal(13.0, 2.0, m) - W.tz[acc], 0, 22)
    return U


def _season(W: _World) -> np.ndarray:
    days = W.base + np.arange(W.D)
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    f = np.ones(W.D)
    f[(month == 12) & (dom >= 24)] = 0.35
    f[(month == 1) & (dom <= 1)] = 0.35
    f[month == 8] = 0.85
    weekday = (days.astype(np.int64) + 3) % 7          # 0 = Monday
    f = f * np.where(weekday >= 5, 0.15, 1.0)
    return f


def _accept(W: _World, U: _Users, u: np.ndarray, day: np.ndarray, season: np.ndarray) -> np.ndarray:
    """Probability that user u, a candidate on `day`, is actually active that day."""
    a = U.acc[u]
    f = season[np.clip(day, 0, W.D - 1)].copy()
    dip = (day >= W.dip_on[a]) & (day < W.dip_off[a])
    f[dip] *= 0.15
    don = W.decay_on[a]
    dec = day >= don
    if dec.any():
        frac = (day[dec] - don[dec]) / np.maximum(W.story_churn[a[dec]] - don[dec], 1)
        f[dec] *= np.exp(-4.0 * np.clip(frac, 0, 1))
    fdo = W.fd_on[a]
    fdm = (day >= fdo) & (day < W.fd_off[a])
    if fdm.any():
        g = 1 - 0.7 * np.clip((day[fdm] - fdo[fdm]) / W.fd_len[a[fdm]], 0, 1)
        rec = day[fdm] >= fdo[fdm] + W.fd_len[a[fdm]]
        g = np.where(rec, 0.3 + 0.7 * (day[fdm] - fdo[fdm] - W.fd_len[a[fdm]])
                     / np.maximum(W.fd_off[a[fdm]] - fdo[fdm] - W.fd_len[a[fdm]], 1), g)
        f[fdm] *= np.clip(g, 0.3, 1)
    away = (U.idx[u] == 0) & (day >= W.away_on[a]) & (day < W.away_off[a])
    f[away] = 0.0
    f[W.kind[a] == 2] *= 0.35
    return f


def _event_prob(W: _World, U: _Users, u, day, j, t_scale=1.0) -> np.ndarray:
    ev = EVENTS[j]
    key, q = _EVENT_SPEC[ev][0], _EVENT_SPEC[ev][1]
    a = U.acc[u]
    p = q * W.adopt[a, j] * np.where(U.idx[u] == 0, 1.2, 1.0)
    age = day - W.signup[a]
    if ev in ("invite_sent", "settings_changed"):
        p = np.where(age < 30, 0.3, p)
    if key:
        p = p * np.where(day >= W.key_on[a], 0.08, 1.0)
        p = p * np.where(W.kind[a] == 2, 0.35, 1.0)
    return np.minimum(p * t_scale, 1.0)


def _row_weights(W: _World, U: _Users, rng, season, t_scale: float, k: int = 8):
    """Per user: (days in span, base rate, Monte Carlo mean of accept x rows per active day)."""
    span = np.maximum(U.end - U.start, 0)
    live = np.flatnonzero(span > 0)
    if len(live) == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    u = np.repeat(live, k)
    day = U.start[u] + (rng.random(len(u)) * span[u]).astype(np.int64)
    val = _accept(W, U, u, day, season)
    per = np.ones(len(u))
    for j in range(1, len(EVENTS)):
        per += _event_prob(W, U, u, day, j, t_scale)
    m = (val * per).reshape(-1, k).mean(axis=1)
    return span[live].astype(float), U.rate[live], m


def _usage_chunk(W: _World, U: _Users, chunk: int, season, s: float, t_scale: float) -> pd.DataFrame:
    rng = np.random.default_rng([W.seed, 2, chunk])
    p = np.clip(U.rate * s, 1e-6, 0.95)
    span = np.maximum(U.end - U.start, 0)
    mu = span * p
    ncand = np.where(span > 0, np.ceil(mu + 4 * np.sqrt(mu * (1 - p)) + 5), 0).astype(np.int64)
    ncand = np.minimum(ncand, span)
    u, _ = _segment_offsets(ncand)
    gaps = rng.geometric(p[u])
    cs = np.cumsum(gaps)
    first = np.cumsum(ncand) - ncand
    prev = np.concatenate([[0], cs])[first]
    day = U.start[u] - 1 + cs - np.repeat(prev, ncand)
    keep = day < U.end[u]
    u, day = u[keep], day[keep]
    keep = rng.random(len(u)) < _accept(W, U, u, day, season)
    u, day = u[keep], day[keep]
    # session start (seconds into the day)
    t0 = np.clip(rng.normal(U.hour[u] * 3600.0, 7200.0), 0, 20 * 3600).astype(np.int64)

    parts_u, parts_day, parts_ev, parts_t = [u], [day], [np.zeros(len(u), np.int64)], [t0]
    for j in range(1, len(EVENTS)):
        hit = rng.random(len(u)) < _event_prob(W, U, u, day, j, t_scale)
        parts_u.append(u[hit])
        parts_day.append(day[hit])
        parts_ev.append(np.full(int(hit.sum()), j, np.int64))
        parts_t.append(np.minimum(t0[hit] + rng.integers(10, 4 * 3600, int(hit.sum())), _DAY - 1))
    u = np.concatenate(parts_u)
    day = np.concatenate(parts_day)
    ev = np.concatenate(parts_ev)
    tod = np.concatenate(parts_t)
    a = U.acc[u]
    age = day - W.signup[a]
    new_kind = W.kind[a] == 2
    onboarding = (age < 30) & ~new_kind

    lam = np.array([_EVENT_SPEC[e][2] for e in EVENTS])[ev]
    lam = np.where(ev == 0, np.select([new_kind, onboarding], [0.3, 3.4], 1.0 * U.role[u]), lam)
    count = 1 + rng.poisson(lam)
    med = np.array([_EVENT_SPEC[e][3] for e in EVENTS])[ev] * W.speed[a]
    sig = np.array([_EVENT_SPEC[e][4] for e in EVENTS])[ev]
    login = ev == 0
    med = np.where(login & onboarding, 180.0, med)
    med = np.where(login & new_kind, 32.0, med)
    sess = day >= W.sess_on[a]
    med = np.where(sess & login & (W.sess_kind[a] == 0), med * 0.3, med)
    med = np.where(sess & ~login & (W.sess_kind[a] == 1), med * W.stuck_mult[a], med)
    dur = np.round(np.maximum(med * np.exp(sig * rng.standard_normal(len(ev))), 0.1), 1)

    sec = day * _DAY + tod
    order = np.lexsort((ev, U.num[u], sec, a))
    u, sec, ev, count, dur, a = u[order], sec[order], ev[order], count[order], dur[order], a[order]
    return pd.DataFrame({
        "account_id": _str_col(W.ids[a]),
        "timestamp": _datetimes(W.epoch0, sec),
        "user_id": _str_col(_ids("U", U.num[u], W.uidw)),
        "event": _str_col(np.array(EVENTS)[ev]),
        "count": count.astype(np.int64),
        "duration_seconds": dur,
    })


# --------------------------------------------------------------------------------------
# NPS
# --------------------------------------------------------------------------------------

def _nps_chunk(W: _World, U: _Users, chunk: int) -> pd.DataFrame:
    rng = np.random.default_rng([W.seed, 3, chunk])
    a = U.acc
    rows_u, rows_day, rows_score = [], [], []
    n_waves = W.D // 91 + 2
    for k in range(n_waves):
        wave = W.nps_phase[a] + 91 * k - 91
        ok = (wave >= U.start) & (wave < U.end) & (wave - W.signup[a] >= 30) & (wave >= 0)
        p = W.nps_resp[a] * np.where(U.idx == 0, 1.3, 1.0)
        in_decl = wave >= W.ds[a]
        p = np.where(in_decl & (W.nps_mode[a] == 2), p * 0.1, p)
        p = np.where((wave >= W.fd_on[a]) & (wave < W.fd_off[a]), p * 0.6, p)
        hit = ok & (rng.random(len(a)) < p)
        day = wave + np.minimum(rng.geometric(0.35, len(a)) - 1, 13)
        hit &= (day < U.end) & (day < W.D)
        mu = np.where(in_decl & (W.nps_mode[a] == 1), W.nps_det[a], W.nps_mu[a])
        mu = np.where((wave >= W.fd_on[a]) & (wave < W.fd_off[a]), mu - 1.0, mu)
        mu = np.where(in_decl & (W.nps_mode[a] == 0), mu - 0.7, mu)
        score = np.clip(np.round(rng.normal(mu, 1.3)), 0, 10).astype(np.int64)
        rows_u.append(np.flatnonzero(hit))
        rows_day.append(day[hit])
        rows_score.append(score[hit])
    u = np.concatenate(rows_u)
    day = np.concatenate(rows_day)
    score = np.concatenate(rows_score)
    sec = day * _DAY + np.clip(rng.normal(U.hour[u] * 3600.0, 10800.0), 0, _DAY - 1).astype(np.int64)
    band = np.where(score <= 6, 0, np.where(score <= 8, 1, 2))
    comment = np.empty(len(u), dtype=object)
    for b in range(3):
        m = band == b
        comment[m] = rng.choice(_COMMENTS[b], int(m.sum()))
    empty = rng.random(len(u)) < np.array([0.4, 0.65, 0.55])[band]
    a = U.acc[u]
    order = np.lexsort((U.num[u], sec, a))
    u, sec, score, comment, empty, a = (x[order] for x in (u, sec, score, comment, empty, a))
    return pd.DataFrame({
        "account_id": _str_col(W.ids[a]),
        "responded_at": _datetimes(W.epoch0, sec),
        "score": score,
        "user_id": _str_col(_ids("U", U.num[u], W.uidw)),
        "comment": _str_col(comment, empty),
    })


# --------------------------------------------------------------------------------------
# tickets
# --------------------------------------------------------------------------------------

def _poisson_times(rng, accs, start, end, rate):
    """Poisson-process tickets on [start, end) per entry: (account, day, second of day)."""
    length = np.maximum(end - start, 0)
    cnt = rng.poisson(rate * length)
    g, _ = _segment_offsets(cnt)
    t = start[g] * _DAY + (rng.random(len(g)) * length[g] * _DAY).astype(np.int64)
    return accs[g], t


def _tickets_chunk(W: _World, lo: int, hi: int, chunk: int, id_start: int):
    rng = np.random.default_rng([W.seed, 4, chunk])
    acc = np.arange(lo, hi)
    s, e = W.life_start[acc], W.life_end[acc]
    ds = np.minimum(W.ds[acc], e)
    mode = W.tix_mode[acc]
    rate = W.tix_rate[acc]
    pieces = []                 # (account, created second, storm flag, forced category)
    pre_rate = np.where(mode == 2, rate * 2.5, rate)
    a1, t1 = _poisson_times(rng, acc, s, np.maximum(np.minimum(ds, e), s), pre_rate)
    pieces.append((a1, t1, np.zeros(len(a1), bool), np.full(len(a1), -1)))
    post_rate = np.select([mode == 1, mode == 2], [rate * 3.0 + 0.10, 0.0], rate)
    a2, t2 = _poisson_times(rng, acc, np.maximum(ds, s), e, post_rate)
    storm = W.tix_mode[a2] == 1
    pieces.append((a2, t2, storm, np.full(len(a2), -1)))
    # a short bug streak at a healthy account
    bs, be = np.maximum(W.bug_on[acc], s), np.minimum(W.bug_off[acc], e)
    a3, t3 = _poisson_times(rng, acc, bs, np.maximum(be, bs), np.full(len(acc), 0.12))
    pieces.append((a3, t3, np.ones(len(a3), bool), np.full(len(a3), -1)))
    # new customers ask how-to questions
    hb = W.howto_burst[acc]
    a4, t4 = _poisson_times(rng, acc[hb], s[hb], np.minimum(W.signup[acc[hb]] + 30, e[hb]),
                            np.full(int(hb.sum()), 0.1))
    pieces.append((a4, t4, np.zeros(len(a4), bool), np.zeros(len(a4), np.int64)))

    a = np.concatenate([p[0] for p in pieces])
    t = np.concatenate([p[1] for p in pieces])
    storm = np.concatenate([p[2] for p in pieces])
    forced = np.concatenate([p[3] for p in pieces])
    # business hours-ish time of day
    day = t // _DAY
    tod = np.clip(rng.normal(14.0 - W.tz[a], 3.0) * 3600, 0, _DAY - 1).astype(np.int64)
    t = day * _DAY + tod
    m = len(a)
    cat = rng.choice(len(_CATEGORIES), m, p=_CAT_P)
    cat = np.where(storm & (rng.random(m) < 0.65), W.recurring[a], cat)
    cat = np.where(forced >= 0, forced, cat)
    pr = np.where(storm,
                  np.searchsorted([0.10, 0.50, 0.85, 1.0], rng.random(m), side="right"),
                  np.searchsorted([0.25, 0.75, 0.95, 1.0], rng.random(m), side="right"))
    pr = np.minimum(pr, 3)
    resolves = rng.random(m) < np.where(storm, 0.6, 0.985)
    hours = rng.lognormal(np.where(storm, np.log(200.0), np.log(18.0)), 1.1)
    res = t + (hours * 3600).astype(np.int64)
    end_sec = W.D * _DAY
    churn_sec = W.churn[a] * _DAY
    # tickets still open when the account leaves are closed on the churn date
    at_churn = W.churned[a] & (~resolves | (res >= churn_sec))
    res = np.where(at_churn, churn_sec + rng.integers(3600, 8 * 3600, m), res)
    resolved = (resolves | at_churn) & (res < end_sec)
    status = np.where(resolved, np.where(res >= end_sec - 4 * _DAY, 0, 1),
                      np.where(rng.random(m) < 0.6, 2, 3))
    status = np.where(at_churn & resolved, 1, status)
    rated = resolved & ~at_churn & (rng.random(m) < 0.35)
    cs_p = np.where(storm[:, None], [0.35, 0.25, 0.2, 0.12, 0.08], [0.04, 0.04, 0.1, 0.27, 0.55])
    csat = 1 + (rng.random(m)[:, None] > np.cumsum(cs_p, axis=1)).sum(axis=1)
    csat = np.minimum(csat, 5)
    order = np.lexsort((t, a))
    a, t, res, resolved, status, pr, cat, csat, rated = (
        x[order] for x in (a, t, res, resolved, status, pr, cat, csat, rated))
    ids = _ids("T", np.arange(id_start + 1, id_start + m + 1), 7)
    frame = pd.DataFrame({
        "ticket_id": _str_col(ids),
        "account_id": _str_col(W.ids[a]),
        "created_at": _datetimes(W.epoch0, t),
        "resolved_at": _datetimes(W.epoch0, res, ~resolved),
        "status": _str_col(np.array(["solved", "closed", "open", "pending"])[status]),
        "priority": _str_col(_PRIORITIES[pr]),
        "category": _str_col(_CATEGORIES[cat]),
        "csat": pd.arrays.IntegerArray(np.where(rated, csat, 0).astype(np.int64), ~rated),
    })
    return frame, m


# --------------------------------------------------------------------------------------
# payments
# --------------------------------------------------------------------------------------

def _payments_chunk(W: _World, lo: int, hi: int, chunk: int, id_start: int):
    rng = np.random.default_rng([W.seed, 5, chunk])
    acc = np.arange(lo, hi)
    annual = W.annual[acc]
    lo_d = W.life_start[acc]
    hi_d = np.minimum(W.churn[acc] - 1, W.D - 1)
    m0 = _first_due_month(lo_d, W.dom[acc], W.anchor[acc], annual, W.base)
    m1 = _last_due_month(hi_d, W.dom[acc], W.anchor[acc], annual, W.base)
    step = np.where(annual, 12, 1)
    n_inv = np.where(m1 >= m0, (m1 - m0) // step + 1, 0)
    g, k = _segment_offsets(n_inv)
    a = acc[g]
    m = m0[g] + k * step[g]
    due = _due_day(m, W.dom[a], W.base)
    last = k == n_inv[g] - 1
    n = len(a)
    mrr = np.where(due >= W.change_on[a], W.mrr1[a], W.mrr0[a])
    amount = np.round(mrr * np.where(W.annual[a], 12, 1), 2)
    pm = np.where(due >= W.pm_on[a], W.pm1[a], W.pm0[a])
    card = pm == 0
    # card on file: renewed every 4 years unless it is the one that expires (involuntary)
    exp0 = W.card_exp0[a]
    j = np.where(W.exp_mode[a], 0, np.maximum(0, -((exp0 - m) // 48)))
    exp_m = exp0 + 48 * j
    old_exp = exp0 + 48 * (j - 1)
    crossed = card & (j >= 1) & (m - step[g] <= old_exp) & ~W.exp_mode[a]

    # outcome of the (last) charge for each invoice
    failing = due >= W.fail_due[a]                      # involuntary churn
    late = (due >= W.late_on[a]) | (W.late_pay[a] & (rng.random(n) < 0.3))
    delay = np.select([pm == 0, pm == 1], [rng.uniform(0, 0.3, n), rng.uniform(1, 3, n)],
                      rng.gamma(2.0, 9.0, n))
    delay = np.where(late, delay + rng.uniform(15, 45, n), delay)
    paid_sec = due * _DAY + (delay * _DAY).astype(np.int64) + rng.integers(0, 3600, n)
    status = np.full(n, 0)                              # 0 paid 1 failed 2 open 3 refunded 4 void
    status = np.where(paid_sec >= W.D * _DAY, 2, status)
    status = np.where((status == 0) & (rng.random(n) < 0.004), 3, status)
    vol_last = last & (W.kind[a] == 0) & W.churned[a] & (rng.random(n) < 0.2) & ~W.sc.independent_churn
    status = np.where(vol_last, 4, status)
    status = np.where(failing, 1, status)
    reason = np.where(W.exp_mode[a], 1, np.where(pm == 1, 2, np.where(rng.random(n) < 0.6, 0, 2)))

    # extra failed attempts before the final row
    n_fail_rows = np.where(failing, rng.integers(0, 3, n), 0)      # retries before the last one
    # a one-off failure or an expired card that is then updated and paid
    oneoff_k = (rng.random(len(acc)) * np.maximum(n_inv, 1)).astype(np.int64)
    oneoff = W.oneoff_fail[a] & (k == oneoff_k[g]) & (pm != 2) & ~failing & (status == 0)
    soft = (W.soft_fail[a] & (due >= W.soft_fail_day[a]) & ~failing & (status == 0)
            & (due < W.soft_fail_day[a] + np.where(annual[g], 366, 31)))
    oneoff = oneoff | soft
    expfail = crossed & ~failing & (status == 0) & (rng.random(n) < 0.3)
    pre = oneoff | expfail
    pre_reason = np.where(expfail, 1, np.where(pm == 1, 2, np.where(rng.random(n) < 0.6, 0, 2)))
    paid_sec = np.where(pre, paid_sec + (rng.uniform(2, 6, n) * _DAY).astype(np.int64), paid_sec)
    status = np.where(pre & (paid_sec >= W.D * _DAY), 2, status)
    # an invoice still unpaid when the account leaves is written off
    gone = W.churned[a] & (paid_sec >= W.churn[a] * _DAY) & (status != 1)
    if W.sc.independent_churn:  # noise: settled the day before leaving, so no status tells who leaves
        paid_sec = np.where(gone, W.churn[a] * _DAY - 1, paid_sec)
        status = np.where(gone & (status != 3), 0, status)
    else:
        status = np.where(gone, 4, status)

    reps = 1 + n_fail_rows + pre
    r, rk = _segment_offsets(reps)
    final = rk == reps[r] - 1
    a_r = a[r]
    st = np.where(final, status[r], 1)
    rs = np.where(pre[r] & ~final, pre_reason[r], reason[r])
    rs = np.where(st == 1, rs, -1)
    exp_r = np.where(pre[r] & ~final & expfail[r], old_exp[r], exp_m[r])
    paid = (st == 0) | (st == 3)
    ids = _ids("P", np.arange(id_start + 1, id_start + len(r) + 1), 8)
    card_r = card[r]
    exp_day = _month_start_day(exp_r + 1, W.base) - 1
    frame = pd.DataFrame({
        "payment_id": _str_col(ids),
        "account_id": _str_col(W.ids[a_r]),
        "due_date": _dates(W.base, due[r]),
        "amount": amount[r].astype(float),
        "paid_at": _datetimes(W.epoch0, paid_sec[r], ~paid),
        "status": _str_col(np.array(["paid", "failed", "open", "refunded", "void"])[st]),
        "failure_reason": _str_col(_REASONS[np.maximum(rs, 0)], rs < 0),
        "payment_method": _str_col(_METHODS[pm[r]]),
        "card_expiry": _dates(W.base, np.where(card_r, exp_day, 0), ~card_r),
    })
    return frame, len(r)


# --------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------

def _chunk_bounds(n: int, rows_per_account: float) -> list[tuple[int, int]]:
    size = int(max(500, min(n, _CHUNK_ROWS / max(rows_per_account, 1.0))))
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def _calibrate(W: _World, bounds, season, usage_rows: int | None) -> tuple[float, float]:
    """Scale factors (active-day rate, events per day) that hit the usage_rows target."""
    if usage_rows is None:
        return 1.0, 1.0
    if usage_rows <= 0:
        raise ValueError("usage_rows must be positive")
    picked = np.unique(np.linspace(0, len(bounds) - 1, min(len(bounds), 4)).round().astype(int))
    us = [_users(W, *bounds[c], int(c)) for c in picked]
    share = sum(bounds[c][1] - bounds[c][0] for c in picked) / W.n
    target = usage_rows * share

    def weights(t):
        rng = np.random.default_rng([W.seed, 9])
        parts = [_row_weights(W, U, rng, season, t) for U in us]
        return [np.concatenate(x) for x in zip(*parts)]

    def total(w, s):
        span, rate, m = w
        return float((span * np.minimum(rate * s, 0.95) * m).sum())

    w1 = weights(1.0)
    lo_s, hi_s = 1e-6, 1e4
    if total(w1, hi_s) < target:                 # more rows than active days allow
        lo_t, hi_t = 1.0, 1e3
        for _ in range(25):
            mid = (lo_t * hi_t) ** 0.5
            lo_t, hi_t = (mid, hi_t) if total(weights(mid), hi_s) < target else (lo_t, mid)
            if hi_t / lo_t < 1.02:
                break
        return hi_s, (lo_t * hi_t) ** 0.5
    for _ in range(60):
        mid = (lo_s * hi_s) ** 0.5
        lo_s, hi_s = (mid, hi_s) if total(w1, mid) < target else (lo_s, mid)
        if hi_s / lo_s < 1.001:
            break
    return (lo_s * hi_s) ** 0.5, 1.0


def _iter_generate(n_accounts, months, seed, end_date, usage_rows, sc: Scenario):
    """Yield ('accounts', frame) once, then (table, frame) chunks for the scenario's event tables."""
    if seed < 0:
        raise ValueError("seed must be >= 0")
    W = _build_world(int(n_accounts), int(months), int(seed), end_date, sc)
    yield "accounts", _accounts_frame(W)
    per_acc = (usage_rows / W.n if usage_rows is not None
               else _NATURAL_ROWS_PER_ACCOUNT_YEAR * months / 12)
    bounds = _chunk_bounds(W.n, per_acc)
    season = _season(W)
    s, t = _calibrate(W, bounds, season, usage_rows)
    n_tix = n_pay = 0
    for c, (lo, hi) in enumerate(bounds):
        U = _users(W, lo, hi, c)
        yield "usage", _usage_chunk(W, U, c, season, s, t)
        if "nps" in sc.tables:
            yield "nps", _nps_chunk(W, U, c)
        if "tickets" in sc.tables:
            tix, k = _tickets_chunk(W, lo, hi, c, n_tix)
            n_tix += k
            yield "tickets", tix
        pay, k = _payments_chunk(W, lo, hi, c, n_pay)
        n_pay += k
        yield "payments", pay


def _columns(table: str, frame: pd.DataFrame) -> list[str]:
    """The contract's columns the frame has, in the contract's order, then any others a scenario adds
    (contract_term_months, optional: only the contract scenario writes it, also once the contract lists it)."""
    return [c for c in COLUMNS[table] if c in frame.columns] + [c for c in frame.columns if c not in COLUMNS[table]]


def generate(n_accounts: int = 2000, months: int = 12, seed: int = 42, *,
             end_date: datetime.date = SAMPLE_END_DATE,
             usage_rows: int | None = None, scenario: str = DEFAULT_SCENARIO) -> dict[str, pd.DataFrame]:
    """Return {'accounts','usage','nps','tickets','payments'} frames in the contract's columns.

    ``scenario`` names the kind of business (churnscore.synth.scenarios.SCENARIOS; default "b2b", the committed
    sample): a scenario without NPS or tickets returns no frame for them, and "contract" adds the accounts
    column contract_term_months.

    Dates (signup_date, renewal_date, churn_date, due_date, card_expiry) are ``datetime64[s]``
    at midnight; datetimes (timestamp, responded_at, created_at, resolved_at, paid_at) are
    ``datetime64[s, UTC]``; ids and other text are ``str``; missing values are NaT / NA.
    ``usage_rows`` is an approximate target for the number of usage rows (usually within a
    few percent): it scales how often users are active, then, if that is not enough, how many
    event types they use per active day; a target beyond about 11 rows per user and day of
    the history cannot be reached.  None: the natural rate, about 420 rows per account for a
    12-month history.
    """
    sc = _scenario(scenario)
    parts: dict[str, list[pd.DataFrame]] = {t: [] for t in sc.tables}
    for table, frame in _iter_generate(n_accounts, months, seed, end_date, usage_rows, sc):
        parts[table].append(frame)
    out = {}
    for table in sc.tables:
        frames = parts[table]
        df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        out[table] = df[_columns(table, df)]
    return out


# --------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------

_EXTENSIONS = {"csv": ".csv", "csv.gz": ".csv.gz", "parquet": ".parquet"}


def _csv_ready(df: pd.DataFrame) -> pd.DataFrame:
    """Format dates, datetimes and booleans the way the contract's CSV files spell them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = {}
    for col in df.columns:
        s = df[col]
        if col in _DATETIME_COLUMNS:
            arr = pa.array(s.dt.tz_localize(None).to_numpy("datetime64[s]"), type=pa.timestamp("s"))
            txt = pc.binary_join_element_wise(
                pc.replace_substring(pc.cast(arr, pa.string()), " ", "T"), "Z", "")
            out[col] = pd.Series(txt, dtype="str")
        elif col in _DATE_COLUMNS:
            arr = pa.array(s.to_numpy("datetime64[s]").astype("datetime64[D]"), type=pa.date32())
            out[col] = pd.Series(pc.cast(arr, pa.string()), dtype="str")
        elif s.dtype == bool:
            out[col] = pd.Series(np.where(s.to_numpy(), "true", "false"), dtype="str")
        else:
            out[col] = s.reset_index(drop=True)
    return pd.DataFrame(out)


def _arrow_table(df: pd.DataFrame):
    import pyarrow as pa

    cols, fields = [], []
    for col in df.columns:
        s = df[col]
        if col in _DATETIME_COLUMNS:
            arr = pa.array(s.dt.tz_localize(None).to_numpy("datetime64[s]"),
                           type=pa.timestamp("s")).cast(pa.timestamp("s", tz="UTC"))
        elif col in _DATE_COLUMNS:
            arr = pa.array(s.to_numpy("datetime64[s]").astype("datetime64[D]"), type=pa.date32())
        elif s.dtype == bool:
            arr = pa.array(s.to_numpy(), type=pa.bool_())
        elif str(s.dtype) == "Int64":
            arr = pa.array(s.to_numpy("float64", na_value=np.nan), from_pandas=True).cast(pa.int64())
        elif pd.api.types.is_integer_dtype(s.dtype):
            arr = pa.array(s.to_numpy(), type=pa.int64())
        elif pd.api.types.is_float_dtype(s.dtype):
            arr = pa.array(s.to_numpy(), type=pa.float64())
        else:
            arr = pa.array(s.to_numpy(object), type=pa.string(), from_pandas=True)
        cols.append(arr)
        fields.append(pa.field(col, arr.type))
    return pa.Table.from_arrays(cols, schema=pa.schema(fields))


class _Writer:
    def __init__(self, path: pathlib.Path, fmt: str):
        self.path, self.fmt = path, fmt
        self._raw = self._text = self._pq = None
        self._header = True
        self.started = False

    def write(self, df: pd.DataFrame) -> None:
        self.started = True
        if self.fmt == "parquet":
            import pyarrow.parquet as pq

            table = _arrow_table(df)
            if self._pq is None:
                self._pq = pq.ParquetWriter(self.path, table.schema)
            self._pq.write_table(table)
            return
        if self._text is None:
            self._raw = open(self.path, "wb")
            stream = self._raw
            if self.fmt == "csv.gz":
                stream = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw,
                                       compresslevel=6, mtime=0)
            self._text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
        _csv_ready(df).to_csv(self._text, index=False, header=self._header, lineterminator="\n")
        self._header = False

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()
        if self._text is not None:
            self._text.close()          # closes the gzip stream and the file
            if not self._raw.closed:
                self._raw.close()


def write_sample(out_dir, n_accounts: int = 2000, months: int = 12, seed: int = 42, *,
                 end_date: datetime.date = SAMPLE_END_DATE, usage_rows: int | None = None,
                 fmt: str = "csv.gz", scenario: str = DEFAULT_SCENARIO) -> dict[str, pathlib.Path]:
    """Generate and write accounts.<ext>, usage.<ext>, nps.<ext>, tickets.<ext>, payments.<ext>.

    ``fmt`` is "csv", "csv.gz" or "parquet".  ``scenario``: as in ``generate``; only the scenario's
    exports are written (no nps or tickets file for "consumer").  Data are generated and written in
    chunks of accounts, so memory stays bounded for large ``n_accounts`` / ``usage_rows``.  Returns the
    path of each file written.
    """
    if fmt not in _EXTENSIONS:
        raise ValueError(f"unknown format {fmt!r}: use csv, csv.gz or parquet")
    sc = _scenario(scenario)
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {t: out / f"{t}{_EXTENSIONS[fmt]}" for t in sc.tables}
    writers = {t: _Writer(paths[t], fmt) for t in sc.tables}
    try:
        for table, frame in _iter_generate(n_accounts, months, seed, end_date, usage_rows, sc):
            if len(frame) or not writers[table].started:
                writers[table].write(frame[_columns(table, frame)])
    finally:
        for t in sc.tables:
            writers[t].close()
    return paths
