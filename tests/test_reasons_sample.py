"""Issue 17, done when: the sample's ranked list (rules, and with a model) reads true, says each fact once and
says of each account what sets it apart. Reasons are read as a customer-success manager reads them."""

from __future__ import annotations

import re
from collections import Counter

import pandas as pd
import pytest

from churnscore.config import DEFAULT_CONFIG, load_config
from churnscore.load import load_all
from churnscore.model import risk_direction, train
from churnscore.pipeline import score
from churnscore.words import INPUT_PHRASES

AS_OF = "2026-10-31"
TOP = 100


@pytest.fixture(scope="module")
def sample():
    config = load_config(DEFAULT_CONFIG)
    loaded = load_all(config)
    usage = loaded.frame("usage")["timestamp"]
    covered = (pd.Timestamp(AS_OF) - usage.min().normalize()).days + 1  # days the usage export speaks for
    result = score(config, loaded=loaded, as_of=AS_OF)
    rules_only = result.ranked.assign(**{"_" + c: result.features.reindex(result.ranked["account_id"])[c].to_numpy()
                                          for c in ("days_since_last_activity",)})
    small = load_config(DEFAULT_CONFIG)
    small = small.__class__(**{**small.__dict__, "model": small.model.__class__(
        **{**small.model.__dict__, "c_grid": (0.1,), "observation_count": 3})})
    model, _ = train(loaded, small, pd.Timestamp(AS_OF))
    with_model = score(config, loaded=load_all(config), as_of=AS_OF, model=model)
    return config, covered, rules_only, with_model.ranked


def told(ranked: pd.DataFrame, column: str = "reasons") -> list[str]:
    return [r for text in ranked[column].fillna("") for r in str(text).split("; ") if r]


@pytest.mark.parametrize("which", ["rules", "model"])
def test_no_placeholder_words_and_right_plurals(sample, which):
    _, _, rules_only, with_model = sample
    ranked = rules_only if which == "rules" else with_model
    words = told(ranked) + (told(ranked, "model_reasons") if which == "model" else [])
    assert words
    bad = [w for w in words if "(s)" in w or "n/a" in w or "unknown" in w
           or re.search(r"(?<![\d.,])1 (days|tickets|payments|answers|points|logins|seconds|accounts)\b", w)
           or re.search(r"(?<![\d.,])(0|[2-9]|\d\d+) (day|ticket|payment|answer|point|second)\b(?!-)", w)]
    assert bad == []


def test_no_span_longer_than_the_data(sample):
    _, covered, rules_only, with_model = sample
    spans = [(int(m.group(1).replace(",", "")), w) for w in told(rules_only) + told(with_model, "model_reasons")
             for m in re.finditer(r"([\d,]+) days?\b", w) if not w.startswith("renewal in")]
    assert spans and [w for n, w in spans if n > covered] == []
    assert not any("as a customer" in w and int(re.search(r"in ([\d,]+) day", w).group(1).replace(",", "")) > covered
                   for w in told(rules_only))


def test_one_fact_one_reason(sample):
    config, _, rules_only, with_model = sample
    for ranked in (rules_only, with_model):
        listed = ranked["red_flags"].fillna("").str.split(", ")
        for rule in config.rules:
            for other, cond in zip(rule.supersedes, rule.supersedes_when or [None] * len(rule.supersedes)):
                both = listed.map(lambda names, a=rule.name, b=other: a in names and b in names).to_numpy().copy()
                if cond is not None:  # dormant for 30 days or more implies no key feature in the last 30
                    assert (cond.feature, cond.op, cond.value) == ("days_since_last_activity", "ge", 30)
                    if "_days_since_last_activity" not in ranked.columns:
                        continue
                    both &= (ranked["_days_since_last_activity"] >= 30).to_numpy()
                assert not both.any(), (rule.name, other)
    # the model never restates what a rule already says for the account
    same_fact = {"NPS": "NPS", "overdue": "overdue", "key features": "key-feature", "users inactive": "users inactive",
                 "failed payment": "failed payment", "late payment": "late payment", "renewal in": "renewal"}
    for rules_words, model_words in zip(with_model["reasons"].fillna(""), with_model["model_reasons"].fillna("")):
        for rule_word, model_word in same_fact.items():
            assert not (rule_word in rules_words and model_word in model_words), (rules_words, model_words)
        assert "red flag" not in model_words


def test_no_model_reason_on_more_than_half_of_the_top(sample):
    _, _, _, with_model = sample
    counts = Counter(told(with_model.head(TOP), "model_reasons"))
    assert counts and counts.most_common(1)[0][1] <= TOP // 2, counts.most_common(3)


def _number(text: str) -> float:
    value = float(re.sub(r"[,%x]", "", text.split()[0]))
    unit = text.split()[1] if len(text.split()) > 1 else ""
    return value * (60 if unit.startswith("minute") else 3600 if unit.startswith("hour") else 1)


def test_no_model_reason_whose_sign_disagrees_with_its_rule(sample):
    config, _, _, with_model = sample
    direction = risk_direction(config.rules)
    patterns = []
    for feature, template in INPUT_PHRASES.items():
        if "{v:" not in template or feature not in direction:
            continue
        head, _, rest = template.partition("{v:")
        tail = rest.partition("}")[2]
        body = re.escape(head) + r"(?P<v>[-\d.,]+%?(?: (?:seconds?|minutes?|hours?))?)" + re.escape(tail)
        patterns.append((feature, re.compile("^" + body.replace(r"\{s\}", "s?").replace("\\{s\\}", "s?")
                                             + r" \(average account: (?P<a>[^)]+)\)$")))
    checked = 0
    for reason in told(with_model, "model_reasons"):
        if reason.startswith("usage ") or reason.startswith("MRR "):  # said as up/down: the words carry the sign
            continue
        for feature, pattern in patterns:
            m = pattern.match(reason)
            if m:
                value, average = _number(m.group("v")), _number(m.group("a"))
                assert direction[feature] * (value - average) > 0, (reason, feature)
                checked += 1
                break
    assert checked > 0
