"""The HTML reports: figures, escaping, charts as inline PNGs, the movers section, and the clear error
without matplotlib."""

from __future__ import annotations

import base64
import re
import sys
from datetime import datetime, timezone

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_text
from reportdata import FLAGS, PREVIOUS, RANKED, RULES, SCORING, SUMMARY, backtest

from churnscore.cli import main
from churnscore.errors import ChurnscoreError
from churnscore.report import evaluate_report, flag_counts, lift_by_decile, score_report, write_report

WHEN = datetime(2026, 11, 1, 6, 30, tzinfo=timezone.utc)
PNG = re.compile(r'<img class="chart" alt="([^"]+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)">')


def report(**kw) -> str:
    return score_report(RANKED, FLAGS, SUMMARY, rules=RULES, scoring=SCORING, generated=WHEN, **kw)


def test_headline_figures():
    html = report()
    assert ('<div class="value" data-key="accounts_scored">3</div><div class="sub">1 more in the inputs not '
            'scored</div>') in html
    assert '<div class="value" data-key="high">1</div>' in html
    assert '<div class="value" data-key="medium">1</div>' in html
    assert '<div class="value" data-key="revenue_at_risk">980.00</div>' in html
    assert "<p>As of 2026-10-31 · generated 2026-11-01 06:30 UTC</p>" in html


def test_text_from_data_is_escaped():
    html = report(previous=PREVIOUS)
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "Bolt &amp; Co" in html and "=SUM(A1:A9)" in html and "Gone &lt;Ltd&gt;" in html
    assert "<li>NPS 3 &lt;of 10&gt;</li>" in html
    assert '<div class="play">Call the champion &amp; the admin</div>' in html


def test_charts_are_inline_pngs():
    images = PNG.findall(report())
    assert [alt for alt, _ in images] == ["Distribution of risk scores", "How often each red flag fired"]
    for _, data in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"


def test_flag_counts_most_frequent_first_and_the_silent_ones_named():
    assert flag_counts(FLAGS).to_dict() == {"dormant": 2, "nps_detractor": 1, "overdue": 0}
    html = report()
    assert "<tr><td>dormant</td><td class='num'>2</td><td class='num'>67%</td><td class='num'>0.40</td></tr>" in html
    assert "Never fired: overdue." in html


def test_movers_section_lists_who_entered_left_and_moved():
    html = report(previous=PREVIOUS)
    entered = html[html.index("<table id='entered'>"):html.index("</table>", html.index("<table id='entered'>"))]
    assert re.findall(r"<td>(A\d)</td>", entered) == ["A1"]
    left = html[html.index("<table id='left'>"):html.index("</table>", html.index("<table id='left'>"))]
    assert re.findall(r"<td>(A\d)</td>", left) == ["A3", "A9"]
    assert "<span class=\"down\">-25.0</span>" in html and "<span class=\"down\">-5.0</span>" in html
    assert "id='movers'" not in report()


def test_movers_tables_list_the_first_accounts_and_say_how_many_there_are(monkeypatch):
    monkeypatch.setattr("churnscore.report.MOVERS_SHOWN", 1)  # at 1 M accounts tens of thousands can move
    html = report(previous=PREVIOUS)
    left = html[html.index("<table id='left'>"):]
    assert re.findall(r"<td>(A\d)</td>", left[:left.index("</table>")]) == ["A3"]  # the highest previous rank
    assert left[left.index("</table>"):].startswith("</table><p class='note'>The first 1 of 2.</p>")
    entered = html[html.index("<table id='entered'>"):]
    assert not entered[entered.index("</table>"):].startswith("</table><p class='note'>The first")  # 1 of 1


def test_lift_by_decile_orders_by_score_and_divides_by_the_base_rate():
    y = np.array([1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
    score = np.arange(20, 0, -1, dtype=float)  # already highest first
    lifts = lift_by_decile(y, score)
    assert [r["n"] for r in lifts] == [2] * 10
    assert [r["churn_rate"] for r in lifts] == [0.5, 0.5, 0, 0, 0, 0, 0, 0, 0, 0.5]
    assert [r["lift"] for r in lifts] == pytest.approx([0.5 / 0.15] * 2 + [0.0] * 7 + [0.5 / 0.15])


def test_evaluate_report_has_roc_lift_and_calibration_for_each_scorer():
    bt = backtest()
    html = evaluate_report(bt, generated=WHEN)
    assert [alt for alt, _ in PNG.findall(html)] == ["ROC curves", "Calibration", "Lift by decile"]
    assert f'data-key="auc_logistic">{bt.results["logistic"]["roc_auc"]:.3f}</div>' in html
    assert "<th class='num'>rules</th><th class='num'>logistic model</th><th class='num'>gradient boosting</th>" in html
    assert "No calibration for rules: its score is not a probability." in html
    assert html.count("<tr><td class='num'>") == 10  # ten deciles


def test_without_matplotlib_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ChurnscoreError, match=re.escape("HTML reports need matplotlib: install churnscore[report] "
                                                        "(pip install 'churnscore[report]').")):
        report()


def test_report_is_written_atomically(tmp_path):
    path = write_report("<p>x</p>", tmp_path / "a" / "r.html")
    assert path.read_text() == "<p>x</p>"
    assert [p.name for p in path.parent.iterdir()] == ["r.html"]


def _inputs(tmp_path):
    d = tmp_path / "in"
    write_text(d / "accounts.csv", "account_id,account_name,mrr,signup_date\nA1,Acme <&>,100,2025-01-01\n")
    write_text(d / "usage.csv", "account_id,timestamp\nA1,2026-10-01\n")
    return d


def test_score_report_option_writes_the_report_and_names_it(tmp_path):
    out, html = tmp_path / "r.csv", tmp_path / "report.html"
    result = CliRunner().invoke(main, ["score", "--input-dir", str(_inputs(tmp_path)), "--as-of", "2026-10-31",
                                       "--out", str(out), "--report", str(html)])
    assert result.exit_code == 0, result.stderr
    assert f"  report {html}" in result.stderr.splitlines()
    timings = result.stderr.splitlines()[-1].removeprefix("  timings: ").split(", ")
    assert [part.split()[0] for part in timings] == ["load", "features", "score", "report", "write"]
    text = html.read_text()
    assert "Acme &lt;&amp;&gt;" in text and '<div class="value" data-key="accounts_scored">1</div>' in text


def test_score_report_without_matplotlib_fails_before_writing_anything(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    out = tmp_path / "r.csv"
    result = CliRunner().invoke(main, ["score", "--input-dir", str(_inputs(tmp_path)), "--out", str(out),
                                       "--report", str(tmp_path / "r.html")])
    assert result.exit_code == 1
    assert result.stderr == ("churnscore: error: HTML reports need matplotlib: install churnscore[report] "
                             "(pip install 'churnscore[report]').\n")
    assert not out.exists()
