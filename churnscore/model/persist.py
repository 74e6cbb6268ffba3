"""The model file: a JSON document of plain numbers with its SHA-256 inside (and an HMAC signature when a key is
set), written atomically; loading parses JSON only (never a pickle, so a crafted file cannot run code here)
and refuses a file that was altered or does not fit the config."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import ModelError
from ..limits import MAX_DEPTH, MODEL_MAX_BYTES, TooLarge, read_bounded, too_deep
from .inputs import feature_config_hash, model_columns
from .linear import MODEL_FORMAT, LinearChurnModel


def _payload_hash(doc: dict[str, Any]) -> str:
    body = {k: v for k, v in doc.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def save_model(model: LinearChurnModel, path: str | Path) -> str:
    """Write the model document atomically; returns its SHA-256 (also stored inside it)."""
    from ..files import atomic_write

    from ..signing import model_key, signature

    doc = model.to_document()
    key = model_key()
    if key is not None:  # signed before hashed: the sha256 covers the signature too
        doc["signature"] = signature(doc, key)
    doc["sha256"] = _payload_hash(doc)
    data = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()
    atomic_write(path, lambda fh: fh.write(data))
    return doc["sha256"]


def load_model(path: str | Path, config: Config | None = None) -> LinearChurnModel:
    """Read a model document; refuse anything that is not one, was altered, or does not fit the config.

    Only JSON is parsed: no pickle, so a crafted file cannot run code here.
    """
    from ..filetype import check_regular
    from ..signing import check_signature, model_key

    path = Path(path)
    key = model_key()  # a key that cannot be read stops the run before the model is
    check_regular(path, "the model file", error=ModelError)  # a FIFO or /dev/zero: never opened
    try:
        raw = read_bounded(path, MODEL_MAX_BYTES)
    except TooLarge:
        raise ModelError(f"{path}: larger than {MODEL_MAX_BYTES:,} bytes, not a churnscore model file (one is "
                         "a few kilobytes).") from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model file ({exc.strerror or exc}).") from None
    try:
        doc = json.loads(raw.decode("utf-8"))
        if too_deep(doc):
            raise ModelError(f"{path}: nested deeper than {MAX_DEPTH} levels, not a churnscore model file.")
    except RecursionError:
        raise ModelError(f"{path}: nested deeper than {MAX_DEPTH} levels, not a churnscore model file.") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelError(f"{path}: not a churnscore model file (expected a JSON document written by "
                         "'churnscore train'; pickles and other formats are refused because loading them "
                         "can run code).") from None
    if not isinstance(doc, dict) or doc.get("format") != MODEL_FORMAT:
        raise ModelError(f"{path}: not a churnscore model file (format is {doc.get('format') if isinstance(doc, dict) else None!r}, "
                         f"expected '{MODEL_FORMAT}').")
    if doc.get("sha256") != _payload_hash(doc):
        raise ModelError(f"{path}: model file hash does not match its content (altered or corrupted); "
                         "retrain with 'churnscore train'.")
    check_signature(doc, path, key)
    try:
        model = LinearChurnModel.from_document(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: model file is incomplete ({exc}).") from None
    model.metadata["sha256"] = doc["sha256"]
    if config is not None:
        check_compatible(model, config, path)
    return model


def check_compatible(model: LinearChurnModel, config: Config, path: str | Path = "model") -> None:
    """The model's inputs must be exactly what this config computes, in the same order."""
    expected = model_columns(config)
    if model.columns != expected:
        extra = [c for c in model.columns if c not in expected]
        absent = [c for c in expected if c not in model.columns]
        detail = []
        if absent:
            detail.append(f"not in the model: {', '.join(absent[:5])}")
        if extra:
            detail.append(f"not in this config: {', '.join(extra[:5])}")
        raise ModelError(f"{path}: model features do not match the config ({'; '.join(detail) or 'order differs'}); "
                         "retrain with 'churnscore train --config ...'.")
    if model.metadata.get("feature_config_hash") != feature_config_hash(config):
        raise ModelError(f"{path}: model was trained with other windows, feature parameters or rule conditions "
                         "than this config; retrain with 'churnscore train --config ...'.")
