"""Results never depend on row or file order (issue 20, item 7): ties are broken by stated keys, so shuffling
the rows of every export gives the same ranked list, byte for byte."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from churnscore.cli import main
from churnscore.synth import write_sample

# two attempts of one invoice (same account, same due date, same paid_at): the invoice's amount is the one
# the stated key puts last (payment_id P09999999), not the one the file happens to put last
TIED = "P09999999,A00002,2026-10-28,20.00,2026-10-28T04:31:40Z,paid,,card,2027-08-31\n"


def _shuffled(src: Path, dst: Path, seed: int) -> Path:
    dst.mkdir()
    for f in sorted(src.iterdir()):
        header, *body = f.read_text().splitlines(keepends=True)
        random.Random(seed).shuffle(body)
        (dst / f.name).write_text(header + "".join(body))
    return dst


def _score(inputs: Path, out: Path) -> tuple[bytes, pd.DataFrame]:
    """The ranked list's bytes and the feature table, as the CLI writes them."""
    result = CliRunner().invoke(main, ["score", "--input-dir", str(inputs), "--as-of", "2026-10-31",
                                       "--out", str(out / "ranked.csv")])
    assert result.exit_code == 0, result.stderr
    result = CliRunner().invoke(main, ["features", "--input-dir", str(inputs), "--as-of", "2026-10-31",
                                       "--out", str(out / "features.csv")])
    assert result.exit_code == 0, result.stderr
    return (out / "ranked.csv").read_bytes(), pd.read_csv(out / "features.csv", index_col="account_id")


def test_shuffling_every_export_gives_the_same_ranked_list(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_sample(src, n_accounts=200, months=6, fmt="csv")
    header, *body = (src / "payments.csv").read_text().splitlines(keepends=True)
    (src / "payments.csv").write_text(header + TIED + "".join(body))  # first in the file, last by the key
    ranked, features = _score(src, tmp_path / "o")
    assert round(features.loc["A00002", "mrr_change_pct_90d"], 4) == -0.901  # 20.00 after 202.01
    for seed in (1, 2):
        got, shuffled = _score(_shuffled(src, tmp_path / f"s{seed}", seed), tmp_path / f"o{seed}")
        assert got == ranked
        pd.testing.assert_frame_equal(shuffled, features, check_exact=True)  # means summed in value order


def test_a_usage_row_dated_2099_does_not_move_the_default_as_of_date(tmp_path: Path) -> None:
    """Issue 20, item 5: the default as-of date ignores rows past the run date plus a day, and says so."""
    src = tmp_path / "src"
    write_sample(src, n_accounts=60, months=3, fmt="csv")
    plain = CliRunner().invoke(main, ["score", "--input-dir", str(src), "--out", str(tmp_path / "a" / "r.csv")])
    assert plain.exit_code == 0, plain.stderr
    with open(src / "usage.csv", "a") as fh:
        fh.write("A00001,2099-01-01T00:00:00Z,U000001,login,1,10.0\n")
    run = CliRunner().invoke(main, ["--log-format", "json", "score", "--input-dir", str(src),
                                    "--out", str(tmp_path / "b" / "r.csv")])
    assert run.exit_code == 0, run.stderr
    assert (tmp_path / "b" / "r.csv").read_bytes() == (tmp_path / "a" / "r.csv").read_bytes()
    import json

    done = json.loads(run.stderr.splitlines()[-1])
    end = (pd.Timestamp.now(tz="UTC").normalize() + pd.Timedelta(days=1)).date()
    assert done["usage_rows_beyond_horizon"] == 1
    assert done["warnings"] == [f"usage: 1 row dated after {end} (the run date plus 1 day; the latest "
                                "2099-01-01) ignored for the default as-of date; fix the export's dates, or "
                                "pass --as-of."]


def test_first_session_among_logins_at_the_same_time_is_the_shortest_in_either_order() -> None:
    from conftest import date, day, features

    accounts = [{"account_id": "Y", "signup_date": date(9)}]
    a = {"account_id": "Y", "timestamp": day(9), "user_id": "u1", "event": "login", "duration_seconds": 45.0}
    b = {**a, "user_id": "u2", "duration_seconds": 30.0}
    for rows in ([a, b], [b, a]):
        table = features(["Y"], usage=rows, accounts=accounts)
        assert table.loc["Y", "first_session_seconds"] == 30.0


def test_a_key_whose_rows_differ_keeps_none_of_them_in_any_order(tmp_path: Path) -> None:
    """Two rows with one payment_id (or ticket_id) that differ: which one was kept was file order; now neither
    is, both are rejects naming each other's lines, and shuffling the exports changes nothing."""
    import re

    src = tmp_path / "src"
    write_sample(src, n_accounts=60, months=3, fmt="csv")
    for name, column in (("payments", 3), ("tickets", 5)):  # amount, priority
        header, first, *body = (src / f"{name}.csv").read_text().splitlines(keepends=True)
        other = first.split(",")
        other[column] = "1.00" if name == "payments" else ("low" if other[column] != "low" else "high")
        (src / f"{name}.csv").write_text(header + first + "".join(body) + ",".join(other) + first)
    pid, tid = (src / "payments.csv").read_text().splitlines()[1].split(",")[0], \
        (src / "tickets.csv").read_text().splitlines()[1].split(",")[0]
    ranked, _ = _score(src, tmp_path / "o")
    rejects = pd.read_csv(tmp_path / "o" / "ranked.rejects.csv", dtype=str)
    # each version's first line is named; the exact copy of the first row is a third reject of that key
    n_pay = len((src / "payments.csv").read_text().splitlines())
    n_tic = len((src / "tickets.csv").read_text().splitlines())
    payments, tickets = (rejects.loc[rejects["column"] == c] for c in ("payment_id", "ticket_id"))
    assert payments[["line", "value", "reason"]].values.tolist() == [
        [str(n), pid, f"payment_id {pid} has 2 different rows (lines 2, {n_pay - 1}); none kept"]
        for n in (2, n_pay - 1, n_pay)]
    assert tickets[["line", "value", "reason"]].values.tolist() == [
        [str(n), tid, f"ticket_id {tid} has 2 different rows (lines 2, {n_tic - 1}); none kept"]
        for n in (2, n_tic - 1, n_tic)]

    def unplaced(frame: pd.DataFrame) -> list[tuple[str, str]]:
        return sorted(zip(frame["value"], frame["reason"].map(lambda r: re.sub(r"\(lines [0-9, ]+\)", "()", r))))

    assert unplaced(rejects) == sorted([(pid, f"payment_id {pid} has 2 different rows (); none kept")] * 3
                                       + [(tid, f"ticket_id {tid} has 2 different rows (); none kept")] * 3)
    for seed in (1, 2):
        got, _ = _score(_shuffled(src, tmp_path / f"s{seed}", seed), tmp_path / f"o{seed}")
        assert got == ranked
        assert unplaced(pd.read_csv(tmp_path / f"o{seed}" / "ranked.rejects.csv", dtype=str)) == unplaced(rejects)
