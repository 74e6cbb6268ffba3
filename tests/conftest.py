"""Shared helpers for the stage tests: typed frames as load.py produces them, configs, tiny files on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from churnscore.config import Config, parse_config
from churnscore.contract import EXPORTS
from churnscore.features import build_features
from churnscore.load import empty_frame

AS_OF = pd.Timestamp("2024-03-31")


# A tiny folder of exports (tests/test_pipeline.py, tests/test_validate.py): three accounts, one of them
# signed up after the usage, and a usage row for an id the accounts export lacks (A9).
TINY_ACCOUNTS = """account_id,account_name,plan,mrr,seats,signup_date,renewal_date,auto_renew,segment,churn_date
A1,One,pro,100,3,2025-01-01,2027-01-01,true,SMB,
A2,Two,pro,200,3,2025-01-01,2027-01-01,true,SMB,
A3,Three,pro,300,3,2026-11-01,2027-11-01,true,SMB,
"""
TINY_USAGE = """account_id,timestamp,user_id,event,count,duration_seconds
A1,2026-09-20T10:00:00Z,u1,login,1,30
A1,2026-09-22T10:00:00Z,u1,report,1,30
A2,2026-09-25T10:00:00Z,u2,login,1,30
A9,2026-09-21T10:00:00Z,u9,login,1,30
A1,2026-10-15T10:00:00Z,u1,login,1,30
"""
QUIET_RULES = {"rules": [{"name": "quiet", "weight": 0.5, "reason": "quiet",
                          "when": {"feature": "usage_events_30d", "op": "lt", "value": 2}}],
               "playbook": []}


def day(age: int, time: str = "10:00") -> str:
    """The ISO datetime ``age`` days before AS_OF (negative: after it) at ``time``."""
    return f"{(AS_OF - pd.Timedelta(days=age)).date().isoformat()} {time}"


def date(age: int) -> str:
    """The ISO date ``age`` days before AS_OF."""
    return (AS_OF - pd.Timedelta(days=age)).date().isoformat()


def typed(name: str, rows: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """A frame of export ``name`` with exactly the dtypes load.read_export gives (str, datetime64[ns],
    float64, int32 count and _line, _file); columns absent from ``rows`` are all-missing, count defaults to 1."""
    template = empty_frame(EXPORTS[name])
    if not rows:
        return template
    raw = pd.DataFrame(rows)
    n = len(raw)
    out: dict[str, pd.Series] = {}
    for col in template.columns:
        dtype = template[col].dtype
        if col in raw:
            values = raw[col]
        elif col == "_line":
            values = pd.Series(np.arange(2, n + 2))
        elif col == "_file":
            values = pd.Series([f"{name}.csv"] * n)
        elif col == "count":
            values = pd.Series([1] * n)
        else:
            values = pd.Series([None] * n, dtype="object")
        if dtype.kind == "M":
            values = pd.to_datetime(values, format="ISO8601")
            if col in {c.name for c in EXPORTS[name].columns if c.kind == "date"}:
                values = values.dt.normalize()
            out[col] = values.astype("datetime64[ns]")
        elif col == "count":
            out[col] = values.fillna(1).astype("int32")
        elif dtype.kind in "fi":
            out[col] = pd.to_numeric(values).astype(dtype)
        elif dtype == "str":  # text that differs on every row stays plain strings
            out[col] = values.astype("str").where(values.notna())
        else:  # text: categorical with str categories, as the loader gives it
            out[col] = values.astype("str").where(values.notna()).astype(
                pd.CategoricalDtype(pd.Index(sorted(values.dropna().astype(str).unique()), dtype="str")))
    return pd.DataFrame(out)


def frames(**exports: list[dict[str, Any]] | pd.DataFrame) -> dict[str, pd.DataFrame]:
    """All five exports as typed frames; exports not given are empty (as Loaded.frame returns them)."""
    out = {}
    for name in EXPORTS:
        given = exports.get(name)
        out[name] = given if isinstance(given, pd.DataFrame) else typed(name, given)
    return out


def config(raw: dict[str, Any] | None = None, base_dir: Path | None = None) -> Config:
    return parse_config(raw or {}, base_dir=base_dir)


def features(ids: list[str], as_of: pd.Timestamp | str = AS_OF, raw_config: dict[str, Any] | None = None,
             **exports: list[dict[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """build_features over hand-made rows for the accounts ``ids`` (in that order)."""
    index = pd.Index(ids, name="account_id", dtype="str")
    return build_features(frames(**exports), index, pd.Timestamp(as_of), config(raw_config))


def expect(table: pd.DataFrame, columns: dict[str, list[float]]) -> None:
    """Assert the given feature columns of ``table`` equal the hand-computed values exactly."""
    expected = pd.DataFrame({k: np.asarray(v, dtype="float64") for k, v in columns.items()}, index=table.index)
    pd.testing.assert_frame_equal(table[list(columns)], expected, check_exact=True)


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def cfg() -> Config:
    """The built-in defaults (no YAML): windows 30/90, the default feature parameters, no rules."""
    return parse_config({})


# ----------------------------------------------------------------------------- a generated history, and a model
# trained on it through the command line (tests/test_model_cli.py, tests/test_explain.py, tests/test_evaluate.py)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 generated accounts over 10 months (seed 5), as CSV exports."""
    from churnscore.synth import write_sample

    folder = tmp_path_factory.mktemp("hist")
    write_sample(folder, n_accounts=300, months=10, seed=5, fmt="csv")
    return folder


@pytest.fixture(scope="module")
def trained(history: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(model file, train's stderr): ``churnscore train`` on ``history``."""
    model = tmp_path_factory.mktemp("model") / "model.json"
    code, _, err = run_cli("train", "--input-dir", str(history), "--model-out", str(model))
    assert code == 0, err
    return model, err


def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``churnscore ARGS`` in this process (``env``: variables set for it): (exit code, stdout, stderr)."""
    from click.testing import CliRunner

    from churnscore.cli import main

    r = CliRunner(env=env).invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr
