"""churnscore: batch churn scoring for SaaS accounts (load -> features -> rules/model -> rank -> write).

From Python, a score run as the CLI's ``churnscore score`` does it::

    from churnscore import score_run
    from churnscore.config import load_config

    done = score_run(load_config("configs/default.yaml"), out="out/ranked.csv")
    done.paths["ranked"], done.summary["accounts_scored"]
"""

from importlib import import_module
from typing import Any

from .version import __version__ as __version__  # churnscore.__version__

__all__ = ["ScoreRun", "score_run"]
_LAZY = tuple(__all__)


def __getattr__(name: str) -> Any:
    """score_run and ScoreRun (churnscore.run), imported on first use: ``import churnscore`` (and the CLI's
    start) stays free of pandas."""
    if name in _LAZY:
        return getattr(import_module(".run", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
