"""The synthetic data generator, kept out of the scoring path: made-up SaaS exports for the committed sample,
the tests and the benchmarks (``churnscore sample-data``), and the kinds of business it can simulate.

It imports only the data contract (layer 0); nothing that scores accounts imports it.
- sample.py: the generator (generate: frames; write_sample: files as CSV, gzipped CSV or Parquet)
- scenarios.py: the parameters of each kind of business (b2b, contract, consumer, noise)

The generator's names are imported on first use: the CLI reads the scenario names for its options at start,
before it tunes memory, and must not bring pandas in with them.
"""

from __future__ import annotations

from typing import Any

from .scenarios import DEFAULT_SCENARIO, SCENARIO_NAMES, SCENARIOS, Scenario, scenario

_FROM_SAMPLE = frozenset({"COLUMNS", "EVENTS", "KEY_FEATURES", "LOGIN_EVENT", "SAMPLE_END_DATE", "TABLES",
                          "generate", "write_sample"})

__all__ = [
    "COLUMNS",
    "DEFAULT_SCENARIO",
    "EVENTS",
    "KEY_FEATURES",
    "LOGIN_EVENT",
    "SAMPLE_END_DATE",
    "SCENARIOS",
    "SCENARIO_NAMES",
    "Scenario",
    "TABLES",
    "generate",
    "scenario",
    "write_sample",
]


def __getattr__(name: str) -> Any:
    if name in _FROM_SAMPLE:
        from . import sample

        return getattr(sample, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
