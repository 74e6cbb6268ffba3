"""The learned score: point-in-time training set, logistic pipeline, time-ordered CV, safe persistence, reasons.

The fitted model is kept as plain numbers (medians, indicator columns, scaling, coefficients) in a JSON
document, so that loading a model file can never run code a crafted file carries (a pickle can); the
numbers reproduce scikit-learn's Pipeline exactly, which a test checks.

The modules: inputs (the model's columns and design matrix), training (observation dates, the training set),
linear (LinearChurnModel: the fitted numbers), fit (fitting, folds, the choice of C, ``train``), metrics
(ROC AUC, calibration), persist (the model file), reasons (what the model says of each account, in words:
the words for each input are churnscore.words.input_words) and drift (is a model still fit for today's data).
Outside the package, import from here.
"""

from __future__ import annotations

from .drift import (BINS, PSI_LIMIT, RATE_LIMIT, SHARE_FLOOR, ModelChecks, check_model, distributions,
                    input_distribution, population_stability_index)
from .fit import cv_sample, fit_logistic, prior_correction, select_c, time_folds, train
from .inputs import LOG_FEATURES, design_matrix, feature_config_hash, model_columns
from .linear import MODEL_FORMAT, LinearChurnModel, base_name
from .metrics import calibration_table, roc_auc
from .persist import check_compatible, load_model, save_model
from .reasons import (DIRECTIONS, GROUPS, SILENT, TEMPLATES, Reasons, input_groups, joined_reasons, model_reasons,
                      probability_and_reasons, risk_direction, said_by, top_reasons)
from .training import TrainingSet, observation_dates, training_set, unknown_terms

__all__ = [
    # inputs
    "LOG_FEATURES", "model_columns", "feature_config_hash", "design_matrix",
    # the training set
    "TrainingSet", "observation_dates", "training_set", "unknown_terms",
    # the fitted model and fitting
    "MODEL_FORMAT", "LinearChurnModel", "base_name",
    "prior_correction", "fit_logistic", "time_folds", "cv_sample", "select_c", "train",
    # metrics
    "roc_auc", "calibration_table",
    # the model file
    "save_model", "load_model", "check_compatible",
    # reasons
    "GROUPS", "SILENT", "TEMPLATES", "DIRECTIONS", "Reasons", "said_by", "risk_direction",
    "input_groups", "model_reasons", "probability_and_reasons", "top_reasons", "joined_reasons",
    # drift
    "PSI_LIMIT", "RATE_LIMIT", "SHARE_FLOOR", "BINS", "input_distribution", "population_stability_index",
    "distributions", "ModelChecks", "check_model",
]
