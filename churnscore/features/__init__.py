"""Per-account features as of a date: pure, vectorised functions from typed export frames to one row per account.

Every feature is declared once in CATALOGUE (name, source, window, meaning, range); `churnscore features
--list` prints it. Only rows dated on or before the as-of date are used (the point-in-time rule):
a ticket resolved after the as-of date is open on it, an invoice paid after it is unpaid on it.
Day counts are whole days between calendar dates (UTC); "last 30 days" is the as-of day and the 29
days before it.

The modules: catalogue (the features declared), kernels (the group-by helpers: rows to accounts), one
module per export family (usage, nps, tickets, payments, accounts), level (level, peer and tenure features,
from the usage family's), and build (build_features: the table). Outside the package, import from here.
"""

from __future__ import annotations

from .accounts import account_attributes, contract_terms, renewal_on
from .build import build_features
from .catalogue import CATALOGUE, FEATURE_NAMES, MODEL_FEATURES, Feature, feature, window_text
from .kernels import (account_codes, code_runs, first_row, group_reduce, index_positions, key_codes, lowered,
                      medians_by_code, most_of_one_key)
from .level import (MIN_PEERS, PEER_COLUMNS, PEER_SOURCES, days_covered, level_features, peer_percentiles,
                    percentile_in_groups, with_peers)
from .nps import nps_features
from .payments import contract_months, payment_features
from .tickets import ticket_features
from .usage import event_norms, norm_rows, usage_features, usage_features_in_pieces

__all__ = [
    # the catalogue
    "CATALOGUE", "FEATURE_NAMES", "MODEL_FEATURES", "Feature", "feature", "window_text",
    # the table
    "build_features",
    # the families
    "usage_features", "usage_features_in_pieces", "norm_rows", "event_norms",
    "nps_features", "ticket_features", "payment_features", "contract_months",
    "account_attributes", "contract_terms", "renewal_on",
    "level_features", "days_covered", "percentile_in_groups", "peer_percentiles", "with_peers",
    "MIN_PEERS", "PEER_COLUMNS", "PEER_SOURCES",
    # the shared kernels
    "account_codes", "index_positions", "key_codes", "lowered", "code_runs", "medians_by_code",
    "group_reduce", "first_row", "most_of_one_key",
]
