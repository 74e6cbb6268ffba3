"""The synthetic data generator, kept out of the scoring path: made-up SaaS exports for the committed sample,
the tests and the benchmarks (``churnscore sample-data``), and the kinds of business it can simulate.

It imports only the data contract (layer 0); nothing that scores accounts imports it.
- sample.py: the generator (generate: frames; write_sample: files as CSV, gzipped CSV or Parquet)
- scenarios.py: the parameters of each kind of business (b2b, contract, consumer, noise)
"""

from .sample import COLUMNS, EVENTS, KEY_FEATURES, LOGIN_EVENT, SAMPLE_END_DATE, TABLES, generate, write_sample
from .scenarios import DEFAULT_SCENARIO, SCENARIO_NAMES, SCENARIOS, Scenario, scenario

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
