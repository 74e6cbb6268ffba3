"""churnscore.explain: one account in full (rank, score, flags, reasons, play, features or the model's
contributions, and its earlier ranked lists), on tiny hand-made exports and through the command line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_cli as run

from churnscore.config import Config, parse_config
from churnscore.errors import ChurnscoreError
from churnscore.explain import explain_account

AS_OF = "2026-10-31"
ACCOUNTS = """account_id,account_name,plan,mrr,seats,signup_date,renewal_date,auto_renew,segment,churn_date
A001,Acme,pro,500,5,2025-01-01,2026-12-01,true,SMB,
A002,Beta,starter,100,2,2025-06-01,2027-01-01,false,SMB,
A003,Gone,starter,50,1,2025-06-01,2027-01-01,false,SMB,2026-09-01
"""
USAGE = """account_id,timestamp,user_id,event,count,duration_seconds
A001,2026-10-30T10:00:00Z,u1,login,3,200
A001,2026-09-15T10:00:00Z,u1,login,10,200
A002,2026-08-01T10:00:00Z,u3,login,1,30
"""
DORMANT = {"name": "dormant", "when": {"feature": "days_since_last_activity", "op": "ge", "value": 14},
           "weight": 0.4, "reason": "no activity for {days_since_last_activity:days}", "play": "Send a win-back email."}


@pytest.fixture
def small(tmp_path: Path) -> tuple[Config, Path]:
    """Three accounts: A001 used the product yesterday, A002 last on 2026-08-01, A003 churned in September;
    one rule (dormant, weight 0.4), tiers high from 30 and medium from 10."""
    d = tmp_path / "in"
    d.mkdir()
    (d / "accounts.csv").write_text(ACCOUNTS)
    (d / "usage.csv").write_text(USAGE)
    return parse_config({"rules": [DORMANT], "scoring": {"tiers": {"high": 30, "medium": 10}}}, base_dir=d), d


def test_explain_a_dormant_account_says_rank_score_flag_reason_play_and_its_features(small) -> None:
    config, d = small
    lines = explain_account(config, "A002", input_dir=d, as_of=AS_OF).splitlines()
    # 2026-08-01 to 2026-10-31 is 91 days; the rules-only score is the weight (0.4) x 100; revenue at risk 100 x 0.4
    assert lines[:6] == ['account A002 "Beta" as of 2026-10-31',
                         "  rank 1 of 2; risk score 40.0 (high); MRR 100.0; revenue at risk 40.0",
                         "  red flags: dormant",
                         "  in words: no activity for 91 days",
                         "  suggested play: Send a win-back email.",
                         f"  {'feature':<34}{'value':>12}"]
    table = {line.split()[0]: line.split()[1] for line in lines[6:]}
    # tenure 2025-06-01 -> 2026-10-31; renewal 2027-01-01; the usage export covers 2026-08-01 .. 2026-10-31
    assert {k: table[k] for k in ("days_since_last_activity", "tenure_days", "days_to_renewal", "usage_days_covered",
                                  "usage_events_30d", "auto_renew_off", "nps_latest")} == {
        "days_since_last_activity": "91", "tenure_days": "517", "days_to_renewal": "62", "usage_days_covered": "91",
        "usage_events_30d": "0", "auto_renew_off": "1", "nps_latest": "-"}


def test_explain_an_account_without_flags_trims_the_id_and_says_none(small) -> None:
    config, d = small
    lines = explain_account(config, " A001 ", input_dir=d, as_of=AS_OF).splitlines()
    assert lines[:3] == ['account A001 "Acme" as of 2026-10-31',
                         "  rank 2 of 2; risk score 0.0 (low); MRR 500.0; revenue at risk 0.0",
                         "  red flags: none"]
    # 3 events yesterday; 10 on 2026-09-15, 46 days back: in the 30 days before the last 30
    assert f"  {'usage_events_30d':<34}{'3':>12}" in lines
    assert f"  {'usage_events_prev_30d':<34}{'10':>12}" in lines


def test_explain_names_why_an_account_is_not_scored(small) -> None:
    config, d = small
    with pytest.raises(ChurnscoreError) as churned:
        explain_account(config, "A003", input_dir=d, as_of=AS_OF)
    assert str(churned.value) == "account 'A003' is not scored on 2026-10-31: churned on or before the as-of date."
    with pytest.raises(ChurnscoreError) as unknown:
        explain_account(config, "a002", input_dir=d, as_of=AS_OF)
    assert str(unknown.value) == ("account 'a002' is not in the inputs (ids are matched exactly, leading zeros "
                                  "included).")


def test_explain_lists_the_account_in_earlier_ranked_lists(small, tmp_path: Path) -> None:
    config, d = small
    before = tmp_path / "before.csv"
    before.write_text("rank,account_id,risk_score,risk_tier\n1,A002,35.5,high\n")
    before.with_name("before.manifest.json").write_text(json.dumps({"as_of": "2026-09-30",
                                                                     "ranked_by": "risk (rules)"}))
    copied = tmp_path / "copied.csv"  # no manifest beside it, and A002 not in it
    copied.write_text("account_id,risk_score\nA009,1.0\n")
    lines = explain_account(config, "A002", input_dir=d, as_of=AS_OF, history=[before, copied]).splitlines()
    assert lines[-3:] == [
        "  history (this list: as of 2026-10-31, ranked by risk (rules)):",
        f"    {before} (as of 2026-09-30, ranked by risk (rules)): rank 1, score 35.5, tier high",
        f"    {copied} (as of unknown date, ranked by unknown ranking): not listed"]


# ----------------------------------------------------------------------------- through the command line
# (moved from tests/test_model_cli.py)


def test_explain_contributions_add_up_to_the_probability(history: Path, trained: tuple[Path, str],
                                                         tmp_path: Path) -> None:
    model, _ = trained
    out = tmp_path / "r.csv"
    run("score", "--input-dir", str(history), "--model", str(model), "--out", str(out))
    ranked = pd.read_csv(out, dtype={"account_id": str}, keep_default_na=False)
    top = ranked.iloc[0]
    code, text, err = run("explain", top["account_id"], "--input-dir", str(history), "--model", str(model),
                          "--history", str(out))
    assert code == 0, err
    lines = text.splitlines()
    assert lines[1].startswith(f"  rank 1 of {len(ranked):,}; risk score {top['risk_score']:.1f}")
    manifest = json.loads(out.with_name("r.manifest.json").read_text())
    assert lines[-2] == f"  history (this list: as of {manifest['as_of']}, ranked by risk (model)):"
    assert lines[-1] == (f"    {out} (as of {manifest['as_of']}, ranked by risk (model)): rank 1, "
                         f"score {top['risk_score']}, tier {top['risk_tier']}")
    start = lines.index(next(line for line in lines if line.strip().startswith("group / input"))) + 1
    end = lines.index(next(line for line in lines if line.strip().startswith("(average account)")))
    groups = [line for line in lines[start:end] if not line.startswith("    ")]  # the nets, not their members
    total = sum(float(line.split()[-1]) for line in groups + [lines[end]])
    p = 1 / (1 + math.exp(-total))
    assert p == pytest.approx(top["churn_probability"], abs=2e-3)


def test_explain_an_excluded_or_unknown_account(history: Path) -> None:
    accounts = pd.read_csv(history / "accounts.csv", dtype=str)
    churned = accounts.loc[accounts["churn_date"].notna(), "account_id"].iloc[0]
    code, _, err = run("explain", churned, "--input-dir", str(history))
    assert code == 1
    assert err.startswith(f"churnscore: error: account '{churned}' is not scored on ")
    assert err.rstrip().endswith(": churned on or before the as-of date.")
    code, _, err = run("explain", "NOPE", "--input-dir", str(history))
    assert (code, err) == (1, "churnscore: error: account 'NOPE' is not in the inputs (ids are matched "
                              "exactly, leading zeros included).\n")
