"""The parse limit: pyarrow reading every input file with its column types given (no churnscore code).

Usage: python benchmarks/parse_limit.py DIR   (prints rows per file; time it as a whole process)
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

TS = pa.timestamp("s", tz="UTC")
TYPES = {
    "accounts": {"account_id": pa.string(), "account_name": pa.string(), "plan": pa.string(), "mrr": pa.float64(),
                 "seats": pa.float64(), "signup_date": pa.date32(), "renewal_date": pa.date32(),
                 "auto_renew": pa.bool_(), "segment": pa.string(), "churn_date": pa.date32()},
    "usage": {"account_id": pa.string(), "timestamp": TS, "user_id": pa.string(), "event": pa.string(),
              "count": pa.int64(), "duration_seconds": pa.float64()},
    "nps": {"account_id": pa.string(), "responded_at": TS, "score": pa.int64(), "user_id": pa.string(),
            "comment": pa.string()},
    "tickets": {"ticket_id": pa.string(), "account_id": pa.string(), "created_at": TS, "resolved_at": TS,
                "status": pa.string(), "priority": pa.string(), "category": pa.string(), "csat": pa.float64()},
    "payments": {"payment_id": pa.string(), "account_id": pa.string(), "due_date": pa.date32(),
                 "amount": pa.float64(), "paid_at": TS, "status": pa.string(), "failure_reason": pa.string(),
                 "payment_method": pa.string(), "card_expiry": pa.date32()},
}


def main(folder: str) -> None:
    for name, types in TYPES.items():
        for ending in (".csv", ".csv.gz", ".parquet"):
            path = Path(folder) / f"{name}{ending}"
            if path.exists():
                break
        else:
            continue
        if ending == ".parquet":
            table = pq.read_table(path)
        else:
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))
        print(f"{name}: {table.num_rows} rows")
        del table


if __name__ == "__main__":
    main(sys.argv[1])
