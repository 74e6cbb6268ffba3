"""Join vendor keys to account ids through the optional account-mapping file, long or wide.

Long: rows of ``source,key,account_id``. Wide (a CRM table, one row per account): an ``account_id`` column and
one column per key; a column names its source by its header: the source itself (``stripe``, ``zendesk``) or the
source and an underscore before anything (``stripe_customer_id``, ``zendesk_organization``), the sources being
the presets' ``account_source`` names and the config's; a column ``email_domain``, ``domain`` or ``email`` serves
every source (after the source's own columns); other columns are ignored; an empty cell maps nothing.

Vendors name the customer their own way: Zendesk by organization, Stripe by customer id, an NPS tool by the
respondent's email. An export whose config (or preset) names an ``account_source`` has its account_id column
looked up in the mapping file under that source: the key as it is first (trimmed, case-insensitive), then, for
an email address, its domain. A row whose key has no mapping goes to the rejects ("no account mapping for
'<key>'") and is counted per export: never silently dropped, never silently kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import Config, load_preset, preset_names
from ..errors import InputDataError

MAP_COLUMNS = ("source", "key", "account_id")
FILE_NAME = "account_map.csv"
ANY_SOURCE = "*"  # the source of a wide table's shared columns (email_domain ...): looked up for every source
SHARED_COLUMNS = ("email_domain", "email_domains", "domain", "domains", "email")


def preset_sources() -> set[str]:
    """The account_source of every shipped preset's exports (stripe, zendesk, mixpanel ...)."""
    out = set()
    for name in preset_names():
        for spec in (load_preset(name) or {}).values():
            if isinstance(spec, dict) and spec.get("account_source"):
                out.add(str(spec["account_source"]).strip().lower())
    return out


def wide_column_source(header: str, sources: set[str]) -> str | None:
    """The source a wide table's column holds keys of: ``stripe`` for ``stripe`` or ``Stripe customer id``,
    ANY_SOURCE for ``email_domain``, None for a column to ignore. The longest matching source wins."""
    name = re.sub(r"[\s\-]+", "_", str(header).strip().lower())
    if name in SHARED_COLUMNS:
        return ANY_SOURCE
    for source in sorted(sources, key=len, reverse=True):
        if name == source or name.startswith(source + "_"):
            return source
    return None


@dataclass(frozen=True)
class AccountMap:
    """The mapping file, normalised: source and key trimmed and lower-cased, account_id as written."""

    path: Path
    table: pd.DataFrame  # source, key, account_id, _line

    def sources(self) -> list[str]:
        return sorted(self.table["source"].unique())


def find_account_map(config: Config, input_dir: Path | None) -> Path | None:
    """inputs.account_map.path of the config, else <input_dir>/account_map.csv when it exists, else None."""
    if config.account_map.path:
        path = config.resolve(config.account_map.path)
        if not path.is_file():
            raise InputDataError(f"{path}: no such file (inputs.account_map.path in the config).", file=str(path))
        return path
    if input_dir is not None and (input_dir / FILE_NAME).is_file():
        return input_dir / FILE_NAME
    return None


def _norm(s: pd.Series) -> pd.Series:
    return s.astype("str").str.strip().str.lower()


def _wide_to_long(path: Path, raw: pd.DataFrame, by_norm: dict[str, Any], sources: set[str]) -> pd.DataFrame:
    """A wide table as long rows (source, key, account_id, _line); empty key cells dropped."""
    ids = raw[by_norm["account_id"]].astype("str").str.strip()
    cols = {c: wide_column_source(c, sources) for c in raw.columns if c != by_norm["account_id"]}
    keyed = {c: s for c, s in cols.items() if s is not None}
    if not keyed:
        found = ", ".join(str(c).strip() for c in raw.columns)
        raise InputDataError(f"{path}: no column names a source; a wide account mapping file has account_id and "
                             "a column per tool named after its source (stripe_customer_id, zendesk_organization, "
                             f"email_domain ...; sources: {', '.join(sorted(sources))}); columns found: {found}.",
                             file=str(path), line=1)
    lines = pd.Series(range(2, len(raw) + 2))
    parts = [pd.DataFrame({"source": s, "key": raw[c].astype("str").str.strip(), "account_id": ids, "_line": lines})
             for c, s in keyed.items()]
    table = pd.concat(parts, ignore_index=True)
    table = table.loc[table["key"] != ""]
    empty = table.loc[table["account_id"] == ""]
    if len(empty):
        line = int(empty["_line"].min())
        raise InputDataError(f"{path}:{line}: empty account_id; every row with a key needs its account id.",
                             file=str(path), line=line, column="account_id")
    return table.sort_values(["_line"], kind="stable").reset_index(drop=True)


def read_account_map(path: Path, sources: set[str] | None = None) -> AccountMap:
    """Read and check the mapping file, long (source, key, account_id) or wide (account_id and a column per
    source, see the module): no empty cell, no key mapped to two accounts. ``sources`` (lower case) name the
    sources a wide table's columns may hold; default: the presets'."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", sep=None, engine="python")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputDataError(f"{path}: cannot read the account mapping file ({exc}).", file=str(path)) from None
    by_norm = {str(c).strip().lower(): c for c in raw.columns}
    if "account_id" in by_norm and "source" not in by_norm and "key" not in by_norm:
        table = _wide_to_long(path, raw, by_norm, preset_sources() if sources is None else set(sources))
        return _checked(path, table)
    missing = [c for c in MAP_COLUMNS if c not in by_norm]
    if missing:
        found = ", ".join(str(c).strip() for c in raw.columns) or "none"
        raise InputDataError(f"{path}: required column '{missing[0]}' not found; an account mapping file has the "
                             f"columns source, key, account_id; columns found: {found}.", file=str(path), line=1,
                             column=missing[0])
    table = pd.DataFrame({c: raw[by_norm[c]].astype("str").str.strip() for c in MAP_COLUMNS})
    table["_line"] = range(2, len(table) + 2)
    empty = (table[list(MAP_COLUMNS)] == "").any(axis=1)
    if empty.any():
        row = table.loc[empty].iloc[0]
        col = next(c for c in MAP_COLUMNS if row[c] == "")
        raise InputDataError(f"{path}:{row['_line']}: empty {col}; every row needs source, key and account_id.",
                             file=str(path), line=int(row["_line"]), column=col)
    return _checked(path, table)


def _checked(path: Path, table: pd.DataFrame) -> AccountMap:
    """Source and key normalised, exact repeats dropped; a key of one source mapped to two accounts stops."""
    table["source"], table["key"] = _norm(table["source"]), _norm(table["key"])
    table = table.drop_duplicates(["source", "key", "account_id"])
    clash = table.duplicated(["source", "key"], keep=False)
    if clash.any():
        rows = table.loc[clash].iloc[:2]
        a, b = rows.iloc[0], rows.iloc[1]
        of = "the shared columns" if b["source"] == ANY_SOURCE else f"source '{b['source']}'"
        raise InputDataError(f"{path}:{b['_line']}: key '{b['key']}' of {of} maps to "
                             f"'{b['account_id']}' here and to '{a['account_id']}' on line {a['_line']}; "
                             "keep one.", file=str(path), line=int(b["_line"]), column="key")
    return AccountMap(path, table.reset_index(drop=True))


def lookup(amap: AccountMap, source: str, keys: pd.Series) -> pd.Series:
    """The account id of each key under ``source`` (missing where none): the key itself, then its email domain;
    then the same in a wide table's shared columns (email_domain ...)."""
    norm = _norm(keys).where(keys.notna())
    domain = norm.str.rsplit("@", n=1).str[-1].where(norm.str.contains("@", regex=False, na=False))
    found = pd.Series(np.nan, index=keys.index, dtype="object")
    for src in (source.strip().lower(), ANY_SOURCE):
        rows = amap.table.loc[amap.table["source"] == src]
        if not len(rows):
            continue
        ids = pd.Series(rows["account_id"].to_numpy(), index=rows["key"].to_numpy(), dtype="str")
        found = found.fillna(norm.map(ids)).fillna(domain.map(ids))
    return found.astype("str").where(found.notna())


def _lookup_ids(amap: AccountMap, source: str, ids: pd.Series) -> pd.Series:
    """lookup() of an account_id column; a categorical one (as the loader gives it) once per distinct key."""
    if not isinstance(ids.dtype, pd.CategoricalDtype):
        return lookup(amap, source, ids)
    found = lookup(amap, source, pd.Series(ids.cat.categories, dtype="str")).to_numpy(dtype=object)
    codes = ids.cat.codes.to_numpy()
    return pd.Series(np.where(codes >= 0, found[np.maximum(codes, 0)], None), index=ids.index, dtype="object")


def map_accounts(config: Config, input_dir: Path | None, frames: dict[str, pd.DataFrame],
                 stats: dict[str, Any]) -> list[pd.DataFrame]:
    """Replace vendor keys by account ids in every export that names an account_source; returns the rejects.

    ``frames`` and ``stats`` (load.FileStats) are updated in place. Without a mapping file the keys are kept
    as they are (the run then reports ids that are not in the accounts export).
    """
    sources = {name: config.inputs[name].account_source for name in frames if config.inputs[name].account_source}
    if not sources:
        return []
    path = find_account_map(config, input_dir)
    if path is None:
        return []
    amap = read_account_map(path, preset_sources() | {s.strip().lower() for s in sources.values()})
    out = []
    for name, source in sources.items():
        frame = frames[name]
        mapped = _lookup_ids(amap, source, frame["account_id"])
        bad = (mapped.isna() & frame["account_id"].notna()).to_numpy()
        keys = frame.loc[bad, "account_id"].astype("str")
        out.append(pd.DataFrame({"file": frame.loc[bad, "_file"].to_numpy(), "line": frame.loc[bad, "_line"].to_numpy(),
                                 "column": "account_id", "value": keys.to_numpy(),
                                 "reason": ("no account mapping for '" + keys + "'").to_numpy()}))
        ids = pd.Series(mapped[~bad].to_numpy(), dtype="str")
        if isinstance(frame["account_id"].dtype, pd.CategoricalDtype):  # keep the loader's dtype
            ids = ids.astype("category")
        frames[name] = frame.loc[~bad].reset_index(drop=True).assign(account_id=ids)
        stats[name].rows_unmapped = int(bad.sum())
        stats[name].rows_rejected += int(bad.sum())
    return [r for r in out if len(r)]
