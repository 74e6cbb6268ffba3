"""Signed models: an HMAC-SHA256 over a model document, with a key only the nightly job's owner holds.

A model file's sha256 proves that it is whole, not who wrote it: anyone who can write the file can change a
coefficient and recompute the hash. With a key set (CHURNSCORE_MODEL_KEY, or the file CHURNSCORE_MODEL_KEY_FILE
names), ``train`` signs what it writes and ``score``/``explain`` refuse a model without a valid signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from .errors import ModelError

KEY_ENV = "CHURNSCORE_MODEL_KEY"
KEY_FILE_ENV = "CHURNSCORE_MODEL_KEY_FILE"
MAX_KEY_FILE_BYTES = 4096


def model_key() -> bytes | None:
    """The signing key from the environment, or None when neither variable is set (models are not signed)."""
    text = os.environ.get(KEY_ENV)
    if text:
        return text.encode("utf-8")
    name = os.environ.get(KEY_FILE_ENV)
    if not name:
        return None
    path = Path(name)
    try:
        with open(path, "rb") as fh:  # a small regular file: not a FIFO or /dev/zero
            if not os.path.isfile(path):
                raise ModelError(f"{path}: {KEY_FILE_ENV} must name a regular file holding the model key.")
            key = fh.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model key ({KEY_FILE_ENV}): {exc.strerror or exc}.") from None
    key = key.strip()
    if not key or len(key) > MAX_KEY_FILE_BYTES:
        raise ModelError(f"{path}: the model key ({KEY_FILE_ENV}) must hold 1 to {MAX_KEY_FILE_BYTES} bytes.")
    return key


def signature(doc: dict[str, Any], key: bytes) -> str:
    """HMAC-SHA256 of the document without its own sha256 and signature fields, as hex."""
    body = {k: v for k, v in doc.items() if k not in ("sha256", "signature")}
    return hmac.new(key, json.dumps(body, sort_keys=True).encode(), hashlib.sha256).hexdigest()


def check_signature(doc: dict[str, Any], path: str | Path, key: bytes | None) -> None:
    """Refuse a model that is unsigned or signed with another key while a key is set; without a key, accept
    any (as before signing existed)."""
    if key is None:
        return
    given = doc.get("signature")
    if not isinstance(given, str):
        raise ModelError(f"{path}: model file is not signed, and {KEY_ENV} (or {KEY_FILE_ENV}) is set; "
                         "retrain it with the key set, or unset the key to use unsigned models.")
    if not hmac.compare_digest(given, signature(doc, key)):
        raise ModelError(f"{path}: model file signature does not match the key in {KEY_ENV} (or "
                         f"{KEY_FILE_ENV}): it was changed or signed with another key; retrain it with this key.")
