"""The input contract in one place: the canonical columns, types and bounds of each export."""

from __future__ import annotations

from dataclasses import dataclass

MONEY_MAX = 1e12  # an mrr or invoice amount above this is a reject (1e308 would make sums infinite)
DURATION_MAX = 1e9  # seconds (31 years): a session or task longer than this is a reject


@dataclass(frozen=True)
class Column:
    """One canonical column of an export.

    ``kind`` is one of: string, datetime, date, float, int, bool.
    ``min``/``max`` bound numbers; a value outside them is a reject.
    ``distinct`` marks text that is mostly different on every row (ids of rows, free text): it is kept
    as plain strings; other text repeats (account ids, events, statuses) and is kept categorical.
    """

    name: str
    kind: str
    required: bool = False
    min: float | None = None
    max: float | None = None
    distinct: bool = False


@dataclass(frozen=True)
class Export:
    """One export: its columns, the column that dates a row (for the as-of cut) and its unique key."""

    name: str
    columns: tuple[Column, ...]
    date_column: str | None
    key: str | None = None
    required: bool = False

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def no_rows_problem(self, first_file: str) -> str | None:
        """Why this export's files having a header and no rows must stop the run, or None (an empty NPS,
        ticket or payment export can be true: no surveys, no tickets)."""
        if self.required:
            return f"{first_file}: the {self.name} export has a header but no rows; {self.name} is required."
        if self.name == "accounts":  # the list of customers: empty, it would exclude every account
            return (f"{first_file}: the accounts export has a header but no rows, so no account could be "
                    "scored; export the accounts again, or remove the file to score every account the other "
                    "exports name.")
        return None

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


ACCOUNTS = Export(
    "accounts",
    (
        Column("account_id", "string", required=True),
        Column("account_name", "string", distinct=True),
        Column("plan", "string"),
        Column("mrr", "float", min=0, max=MONEY_MAX),
        Column("seats", "int", min=0),
        Column("signup_date", "date"),
        Column("renewal_date", "date"),
        Column("auto_renew", "bool"),
        Column("segment", "string"),
        Column("churn_date", "date"),
        Column("contract_term_months", "int", min=1),  # the contract's term (12: renews yearly), not its billing
    ),
    date_column=None,
    key="account_id",
)

USAGE = Export(
    "usage",
    (
        Column("account_id", "string", required=True),
        Column("timestamp", "datetime", required=True),
        Column("user_id", "string"),
        Column("event", "string"),
        Column("count", "int", min=0),
        Column("duration_seconds", "float", min=0, max=DURATION_MAX),
    ),
    date_column="timestamp",
    required=True,
)

NPS = Export(
    "nps",
    (
        Column("account_id", "string", required=True),
        Column("responded_at", "datetime", required=True),
        Column("score", "int", required=True, min=0, max=10),
        Column("user_id", "string"),
        Column("comment", "string", distinct=True),
    ),
    date_column="responded_at",
)

TICKETS = Export(
    "tickets",
    (
        Column("ticket_id", "string", required=True, distinct=True),
        Column("account_id", "string", required=True),
        Column("created_at", "datetime", required=True),
        Column("resolved_at", "datetime"),
        Column("status", "string"),
        Column("priority", "string"),
        Column("category", "string"),
        Column("csat", "float", min=1, max=5),
    ),
    date_column="created_at",
    key="ticket_id",
)

PAYMENTS = Export(
    "payments",
    (
        Column("payment_id", "string", required=True, distinct=True),
        Column("account_id", "string", required=True),
        Column("due_date", "date", required=True),
        Column("amount", "float", required=True, min=0, max=MONEY_MAX),
        Column("paid_at", "datetime"),
        Column("status", "string"),
        Column("failure_reason", "string"),
        Column("payment_method", "string"),
        Column("card_expiry", "date"),
    ),
    date_column="due_date",
    key="payment_id",
)

EXPORTS: dict[str, Export] = {e.name: e for e in (ACCOUNTS, USAGE, NPS, TICKETS, PAYMENTS)}

FILE_ENDINGS = (".csv", ".csv.gz", ".parquet", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json", ".json.gz",
                ".zip")  # a .zip of JSON files (Amplitude's export)

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})
