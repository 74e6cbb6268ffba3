"""The feature catalogue: every feature declared once (name, source, window, meaning, documented range).

`churnscore features --list` prints it; build_features gives its columns in this order.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import FeatureParams, Windows


@dataclass(frozen=True)


class Feature:
    name: str
    source: str
    window: str  # "short", "long", "prior", "all", "first30", "now", "silence", "tenure"
    meaning: str
    low: float | None = None  # documented range; None: unbounded
    high: float | None = None
    events: str = ""  # the features setting (login_event, key_features) naming the events it is built from
    model: bool = True  # False: for the words only (a reason's count or span), not a model input


def _f(name: str, source: str, window: str, meaning: str, low: float | None = 0.0,
       high: float | None = None, events: str = "", model: bool = True) -> Feature:
    return Feature(name, source, window, meaning, low, high, events, model)


CATALOGUE: tuple[Feature, ...] = (
    # usage
    _f("usage_events_30d", "usage", "short", "events (sum of count) in the last short window"),
    _f("usage_events_prev_30d", "usage", "prior", "events in the short window before that"),
    _f("usage_trend_30d", "usage", "short", "change of events vs the prior short window, as a fraction "
       "(-0.6 = down 60%); empty when the prior window had none", -1.0, None),
    _f("active_days_30d", "usage", "short", "distinct days with any event in the last short window"),
    _f("days_since_last_activity", "usage", "all", "days since the last event; empty if never active"),
    _f("never_active", "usage", "all", "1 if the account has no usage at all up to the as-of date", 0, 1),
    _f("active_users_30d", "usage", "short", "distinct users with an event in the last short window"),
    _f("active_users_prev_30d", "usage", "prior", "distinct users active in the prior short window"),
    _f("users_gone_quiet_share", "usage", "short", "share of the prior window's users with no event in "
       "the last short window (team-wide decline, not one person away)", 0, 1),
    _f("seat_utilisation", "usage+accounts", "short", "active users in the last short window / licensed "
       "seats", 0, None),
    _f("key_feature_adoption", "usage", "short", "share of the configured key features used in the last "
       "short window", 0, 1, events="key_features"),
    _f("key_feature_events_30d", "usage", "short", "events on key features in the last short window",
       events="key_features"),
    _f("avg_session_seconds_30d", "usage", "short", "mean session length (duration of login events; of "
       "all events if there are none) in the last short window"),
    _f("task_time_vs_norm_30d", "usage", "short", "median of duration / the event's norm (median over all "
       "accounts in the long window); 3 = tasks take three times as long as usual"),
    _f("first30_logins_per_day", "usage+accounts", "first30", "young accounts only: login events per "
       "day in their first 30 days (so far)", events="login_event"),
    _f("first_session_seconds", "usage+accounts", "first30", "young accounts only: length of the first "
       "session (first login event)", events="login_event"),
    _f("usage_per_active_day_30d", "usage", "short", "events per active day in the last short window; empty "
       "without an active day"),
    _f("usage_per_seat_30d", "usage+accounts", "short", "events in the last short window per licensed seat (per "
       "account when seats are unknown), scaled to the whole window for accounts younger than it"),
    _f("usage_per_active_day_pctile", "usage+accounts", "short", "percentile (1-100) of usage_per_active_day_30d "
       "among peers: the share of the accounts of its plan (of its segment, or of all, when the plan has fewer "
       "than 20) at or below it, rounded up; peers and ranked accounts are those with usage in the window", 1, 100),
    _f("usage_per_seat_pctile", "usage+accounts", "short", "percentile (1-100) of usage_per_seat_30d among "
       "peers, as usage_per_active_day_pctile", 1, 100),
    _f("lifetime_events_per_day", "usage+accounts", "tenure", "events per day since signup (first activity "
       "when no signup date), counted from the first day the usage export covers when signup is earlier"),
    _f("tenure_band", "accounts", "now", "0 first 90 days, 1 rest of the first year, 2 second year, 3 later", 0, 3),
    _f("usage_days_covered", "usage+accounts", "tenure", "days from the later of the account's start and the "
       "first day the usage export covers, to the as-of date: the span a 'no usage' can speak for; for the "
       "reasons' words, not a model input", model=False),
    _f("first_90_days", "accounts", "now", "1 if the account is in its first 90 days (tenure_days < 90)", 0, 1),
    # nps
    _f("nps_latest", "nps", "all", "mean score of the latest survey round (responses within a short "
       "window of the last one)", 0, 10),
    _f("nps_mean", "nps", "all", "mean of all scores", 0, 10),
    _f("nps_latest_answers", "nps", "all", "answers in the latest survey round (nps_latest is their mean); "
       "for the reasons' words, not a model input", model=False),
    _f("nps_trend", "nps", "all", "latest round minus the mean of earlier responses", -10, 10),
    _f("nps_detractor", "nps", "all", "1 if the latest round scores 6 or less", 0, 1),
    _f("days_since_nps_response", "nps", "all", "days since the last response; empty if none"),
    _f("nps_silent", "nps", "silence", "1 if no survey response in the last nps_silence_days; empty when "
       "the NPS export has no rows at all (no surveys, no silence)", 0, 1),
    # tickets
    _f("tickets_open", "tickets", "now", "tickets unresolved on the as-of date"),
    _f("tickets_opened_30d", "tickets", "short", "tickets created in the last short window"),
    _f("tickets_opened_90d", "tickets", "long", "tickets created in the last long window"),
    _f("tickets_unresolved_old", "tickets", "now", "tickets open for unresolved_days or more"),
    _f("ticket_resolution_median_hours", "tickets", "long", "median hours to resolve the tickets created in "
       "the long window and resolved by the as-of date"),
    _f("ticket_max_category_90d", "tickets", "long", "most tickets in one category in the long window "
       "(recurring problem)"),
    _f("tickets_urgent_90d", "tickets", "long", "high or urgent tickets created in the long window"),
    _f("csat_mean_90d", "tickets", "long", "mean CSAT (1-5) of tickets created in the long window", 1, 5),
    _f("ticket_silence", "tickets", "short", "1 if the account wrote at least ticket_silence_min_prior "
       "tickets in the long window before the last short window and none in it", 0, 1),
    # payments
    _f("payments_late_90d", "payments", "long", "invoices due in the long window paid late or still unpaid "
       "past the grace days"),
    _f("days_overdue", "payments", "now", "days the oldest unpaid invoice is past due; 0 if none"),
    _f("payments_failed_30d", "payments", "short", "failed charges due in the last short window"),
    _f("payments_failed_90d", "payments", "long", "failed charges due in the long window"),
    _f("failed_card_expired_90d", "payments", "long", "failed charges in the long window whose reason is "
       "an expired card"),
    _f("failed_card_declined_90d", "payments", "long", "failed charges in the long window for any other "
       "reason (declined, insufficient funds, ...)"),
    _f("card_expiring_before_renewal", "payments+accounts", "now", "1 if the card on file expires before the "
       "next renewal (see days_to_renewal; within the long window when it is empty)", 0, 1),
    _f("payment_method_changed_90d", "payments", "long", "1 if invoices in the long window used more than "
       "one payment method", 0, 1),
    _f("mrr_change_pct_90d", "payments", "long", "change of the latest invoice amount (per month of its "
       "billing cycle) vs the one a long window earlier, as a fraction (-0.3 = downgrade by 30%)", -1.0, None),
    _f("contract_months", "accounts+payments", "all", "contract term in months (12 = renews yearly): the "
       "accounts' contract_term_months, else features.contract_terms for the plan, else features.contract_months; "
       "where none is set, the billing cycle from the gaps between invoice due dates (empty with fewer than two "
       "invoices)", 1, None),
    # accounts
    _f("tenure_days", "accounts", "now", "days since signup (first activity when no signup date)"),
    _f("days_to_renewal", "accounts", "now", "days until the next renewal on or after the as-of date: on the "
       "day the accounts export describes (the latest day in the data, or inputs.accounts.snapshot_date), its "
       "renewal_date as it is; on earlier days that date stepped back by whole contract terms (contract_term_"
       "months, features.contract_terms or features.contract_months; never the billing cycle); empty when the "
       "date is unknown or passed, or before the export's day when the term is unknown"),
    _f("renewal_within_90d", "accounts", "long", "1 if the next renewal (days_to_renewal) falls within the long "
       "window", 0, 1),
    _f("mrr", "accounts", "now", "monthly recurring revenue (latest invoice per month of its cycle when "
       "accounts has none)"),
    _f("seats", "accounts", "now", "licensed seats"),
    _f("auto_renew_off", "accounts", "now", "1 if auto-renewal is switched off", 0, 1),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in CATALOGUE)
MODEL_FEATURES: tuple[str, ...] = tuple(f.name for f in CATALOGUE if f.model)
_BY_NAME = {f.name: f for f in CATALOGUE}


def feature(name: str) -> Feature:
    return _BY_NAME[name]


def window_text(f: Feature, windows: Windows, params: FeatureParams) -> str:
    """The window of a feature in days, as the catalogue listing shows it."""
    s, l = windows.short_days, windows.long_days
    return {
        "short": f"last {s} d", "prior": f"days {s + 1}-{2 * s}", "long": f"last {l} d",
        "all": "all history", "first30": "first 30 d", "now": "as-of date", "tenure": "since signup",
        "silence": f"last {params.nps_silence_days} d",
    }[f.window]
