"""churnscore: batch churn scoring for SaaS accounts (load -> features -> rules/model -> rank -> write)."""

__version__ = "0.1.0"
