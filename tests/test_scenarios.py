"""Issue 16's targets on every kind of business sample-data can make (churnscore.synth.scenarios), at small sizes.

Each scenario is generated once per module, loaded with the default config and backtested out of time
(churnscore.evaluate.backtest, as `churnscore evaluate` does). The targets that today's rules and model miss
are marked xfail(strict=True) one by one, with what is missing: when a fix lands, its xfail turns into an
XPASS failure and the mark is removed. The thresholds are the issue's; do not loosen them.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits
# imported here so that its OpenMP runtime is loaded before threadpool_limits: the backtest's first
# gradient-boosting fit otherwise ran many spinning threads on the shared cores (22 s against 0.5 s)
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: F401

from churnscore.config import DEFAULT_CONFIG, load_config
from churnscore.evaluate import Backtest, backtest
from churnscore.load import load_all
from churnscore.asof import as_of_for
from churnscore.synth import SCENARIO_NAMES, generate, write_sample

ACCOUNTS, MONTHS, SEED = 600, 15, 42   # >= 12 months: a year of snapshots and the 90-day horizon


@pytest.fixture(scope="module")
def backtests(tmp_path_factory: pytest.TempPathFactory):
    """scenario -> Backtest, each generated and run once, on first use."""
    root = tmp_path_factory.mktemp("scenarios")
    done: dict[str, Backtest] = {}

    def get(name: str) -> Backtest:
        if name not in done:
            folder = root / name
            write_sample(folder, n_accounts=ACCOUNTS, months=MONTHS, seed=SEED, scenario=name, fmt="parquet")
            config = dataclasses.replace(load_config(DEFAULT_CONFIG), input_dir=str(folder))
            loaded = load_all(config)
            try:
                as_of = as_of_for(loaded, None).day
                with threadpool_limits(limits=1):  # one thread: see the import of HistGradientBoostingClassifier
                    done[name] = backtest(loaded, config, as_of)
            finally:
                loaded.close()
        return done[name]

    return get


def _xfail(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=f"issue 16: {reason}")


def _auc(bt: Backtest, scorer: str) -> float:
    return bt.results[scorer]["roc_auc"]


# ------------------------------------------------------------------ (a)-(c): skill where there is some

SKILL = ("rules_auc_at_least_0.60", "logistic_beats_rules", "logistic_within_0.02_of_gradient_boosting")


def _skill_case(scenario: str, target: str, missing: str | None = None):
    marks = [_xfail(missing)] if missing else []
    return pytest.param(scenario, target, id=f"{scenario}-{target}", marks=marks)


@pytest.mark.parametrize(("scenario", "target"), [
    _skill_case("b2b", SKILL[0]),
    _skill_case("b2b", SKILL[1]),
    _skill_case("b2b", SKILL[2]),
    _skill_case("contract", SKILL[0]),
    _skill_case("contract", SKILL[1]),
    _skill_case("contract", SKILL[2]),
    _skill_case("consumer", SKILL[0]),  # 0.60+ here, but 0.588 at 2000 accounts x 15 months: near the bar
    _skill_case("consumer", SKILL[1]),
    _skill_case("consumer", SKILL[2]),
])
def test_skill_targets(backtests, scenario: str, target: str) -> None:
    bt = backtests(scenario)
    rules, log, hgb = _auc(bt, "rules"), _auc(bt, "logistic"), _auc(bt, "gradient_boosting")
    if target == SKILL[0]:
        assert rules >= 0.60, (scenario, rules)
    elif target == SKILL[1]:
        assert log > rules, (scenario, log, rules)
    else:
        assert log >= hgb - 0.02, (scenario, log, hgb)


# ------------------------------------------------------------------ (d): nobody claims skill on noise

@pytest.mark.parametrize("scorer", [
    pytest.param("rules", id="rules"),
    pytest.param("logistic", id="logistic"),
    pytest.param("gradient_boosting", id="gradient_boosting"),
])
def test_noise_auc_is_chance(backtests, scorer: str) -> None:
    auc = _auc(backtests("noise"), scorer)
    assert 0.45 <= auc <= 0.55, (scorer, auc)


def test_noise_logistic_mean_probability_is_the_base_rate(backtests) -> None:
    r = backtests("noise").results["logistic"]
    assert abs(r["mean_predicted"] - r["base_rate"]) <= 0.2 * r["base_rate"], (r["mean_predicted"], r["base_rate"])


# ------------------------------------------------------------------ the generator

@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_each_scenario_is_deterministic_for_a_seed(tmp_path: Path, scenario: str) -> None:
    a = write_sample(tmp_path / "a", n_accounts=40, months=3, seed=7, scenario=scenario)
    b = write_sample(tmp_path / "b", n_accounts=40, months=3, seed=7, scenario=scenario)
    assert list(a) == list(b)
    for table in a:
        assert a[table].read_bytes() == b[table].read_bytes(), (scenario, table)


def test_scenarios_differ_from_the_b2b_sample() -> None:
    frames = {s: generate(40, 3, 7, scenario=s) for s in SCENARIO_NAMES}
    for s in SCENARIO_NAMES[1:]:
        assert not frames[s]["accounts"].equals(frames["b2b"]["accounts"]), s


def test_consumer_writes_no_nps_and_no_tickets(tmp_path: Path) -> None:
    paths = write_sample(tmp_path, n_accounts=40, months=3, seed=7, scenario="consumer", fmt="csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accounts.csv", "payments.csv", "usage.csv"]
    assert list(paths) == ["accounts", "usage", "payments"]
    acc = generate(40, 3, 7, scenario="consumer")["accounts"]
    assert set(acc["plan"]) == {"plus"} and set(acc["segment"]) == {"consumer"}
    assert acc["seats"].between(1, 3).all()


def test_contract_accounts_renew_yearly_and_leave_only_on_the_anniversary() -> None:
    acc = generate(300, 15, 7, scenario="contract")["accounts"]
    assert (acc["contract_term_months"] == 12).all()
    gone = acc[acc["churn_date"].notna()]
    assert len(gone) > 0
    # a churned account's last renewal is its churn date, on the signup anniversary (day capped at 28)
    assert (gone["renewal_date"] == gone["churn_date"]).all()
    sign = gone["signup_date"]
    assert (gone["churn_date"].dt.month == sign.dt.month).all()
    assert (gone["churn_date"].dt.day == np.minimum(sign.dt.day, 28)).all()
    # an active account's renewal date is its next anniversary after the end date, within a year
    stay = acc[acc["churn_date"].isna()]
    end = np.datetime64("2026-10-31")
    days = (stay["renewal_date"].to_numpy() - end) / np.timedelta64(1, "D")
    assert ((days >= 1) & (days <= 366)).all()


def test_unknown_scenario_names_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'retail': use one of b2b, contract, consumer, noise"):
        generate(10, 1, 1, scenario="retail")


# ------------------------------------------------------------------ the command

def test_sample_data_scenario_option_writes_the_scenarios_exports(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from churnscore.cli import main

    out = tmp_path / "c"
    result = CliRunner().invoke(main, ["sample-data", "--scenario", "consumer", "--accounts", "5", "--months", "2",
                                       "--format", "csv", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == "".join(f"churnscore: wrote {t}: {out / f'{t}.csv'}\n"
                                    for t in ("accounts", "usage", "payments"))
    result = CliRunner().invoke(main, ["sample-data", "--scenario", "contract", "--accounts", "5", "--months", "2",
                                       "--format", "csv", "--out", str(tmp_path / "k")])
    assert result.exit_code == 0, result.stderr
    header = (tmp_path / "k" / "accounts.csv").read_text().splitlines()[0]
    assert header == ("account_id,account_name,plan,mrr,seats,signup_date,renewal_date,auto_renew,segment,"
                      "churn_date,contract_term_months")
    result = CliRunner().invoke(main, ["sample-data", "--scenario", "retail", "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "'retail' is not one of 'b2b', 'contract', 'consumer', 'noise'" in result.stderr
