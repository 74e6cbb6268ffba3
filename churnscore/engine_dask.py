"""The distributed engine (--engine dask): loading and the per-account features on a Dask cluster.

It gives the pandas engine's feature table, rejects and counts by construction: the same code runs on
smaller pieces, and every piece holds all the rows its result depends on, in their original order.

- Load: one task per input file runs load's own reader and ``parse_table`` (so typed values, line numbers
  and rejects are those of ``load.read_export``) and the row-wise time-order check.
- Dedupe: rows are shuffled by the export's key (tickets by ticket_id, payments by payment_id, the rest by
  account_id: rows that are exact duplicates share their account), each partition is put back in file and
  line order, and ``load.dedupe`` runs on it; then ``accounts_map.map_accounts`` for vendor keys.
- Features: every export is shuffled by account_id into the same N partitions, so all of an account's rows,
  of every export, sit in one partition in their original order, and ``features.build_features`` runs on
  each. The two figures it takes over all accounts are computed first: each event's duration norm (the
  median over every account, by a shuffle on the event) and whether the NPS export has any row.

Back on the client: the rejects, the counts per file, the accounts export (one row per account), for the
other exports each account's earliest and latest date (enough for the as-of date, the universe and the
summary), and the feature table, one row per account. The rules, model, ranking and writing that follow are
the pandas engine's. Files are read by the workers: their paths are made absolute, and every worker must see
them at the same place (a shared filesystem).
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .asof import AsOf
from .config import Config, InputSpec
from .contract import EXPORTS
from .errors import ChurnscoreError, InputDataError
from .features import FEATURE_NAMES, build_features, norm_rows
from .load import (REJECT_COLUMNS, FileStats, Loaded, check_order, concat_frames, dedupe, empty_frame, export_files,
                   file_order, file_sorted, find_account_map, map_accounts, no_export_found, read_file,
                   take_rejected_ids)
from .rulecheck import added, event_accounts, events_seen
from .universe import RowNotes, present_ids

INSTALL = "pip install 'churnscore[dask]'"
SHUFFLE = "tasks"  # plain pandas pieces on any cluster (p2p, over Arrow, fails on the categoricals; dask 2026.8)


def _dask() -> tuple[Any, Any]:
    """dask.dataframe and dask.distributed, or a clear error when the extra is not installed."""
    try:
        import dask.dataframe as dd
        from dask import distributed
    except ImportError as exc:
        raise ChurnscoreError(f"--engine dask needs Dask: install churnscore[dask] ({INSTALL}); {exc}.") from None
    return dd, distributed


def _worker_version() -> str:
    from .version import __version__

    return __version__


# ----------------------------------------------------------------------------- tasks (run on the workers)


@dataclass
class _Piece:
    """One input file read on a worker: typed rows, rejects and counts, or the error that stops the run."""

    frame: pd.DataFrame | None
    rejects: pd.DataFrame  # ragged and unparseable rows, in line order (as read_export collects them)
    order_rejects: pd.DataFrame  # rows whose two times are in the wrong order
    rows_read: int = 0
    mapped: dict[str, str] = field(default_factory=dict)
    error: InputDataError | None = None


def _meta(name: str) -> pd.DataFrame:
    """The columns and dtypes of an export's rows between the tasks (count is float until deduped)."""
    meta = empty_frame(EXPORTS[name])
    return meta.astype({"count": "float64"}) if "count" in meta else meta


def _read_file(path: str, name: str, spec: InputSpec) -> _Piece:
    """read_export's work on one file: read, parse, label the rows with their file, check time order."""
    export, where = EXPORTS[name], Path(path)
    empty = pd.DataFrame(columns=REJECT_COLUMNS)
    try:
        frame, rejects, mapped, rows = read_file(where, export, spec)
    except InputDataError as exc:  # raised on the client, in file order, as the pandas engine would
        return _Piece(None, empty, empty, error=exc)
    frame, order_rejects = check_order(frame, export)
    for col in export.columns:  # absent optional columns: all missing, typed (no effect on duplicates)
        if col.name not in frame:
            frame[col.name] = empty_frame(export)[col.name].reindex(frame.index)
    frame = frame[list(_meta(name).columns)]
    return _Piece(frame, rejects, order_rejects, rows, mapped)


def _piece_frame(piece: _Piece) -> pd.DataFrame:
    return piece.frame


def _piece_info(piece: _Piece) -> _Piece:
    return replace(piece, frame=None)


def _in_file_order(frame: pd.DataFrame, order: dict[str, int]) -> pd.DataFrame:
    """Rows back in the order the pandas engine holds them: by file, then line (a shuffle mixes them)."""
    key = np.lexsort((frame["_line"].to_numpy(), file_order(frame["_file"], order)))
    return frame.take(key).reset_index(drop=True)


def _dedupe_part(part: pd.DataFrame, name: str, order: dict[str, int], config: Config,
                 base: Path | None) -> tuple[pd.DataFrame, pd.DataFrame, list[pd.DataFrame], int]:
    """load.dedupe and load.map_accounts on one partition (holding every row of its keys)."""
    export = EXPORTS[name]
    frame, duplicates = dedupe(_in_file_order(part, order), export)
    frames, stats = {name: frame}, {name: FileStats(name, [])}
    unmapped = map_accounts(config, base, frames, stats)
    frame = frames[name]
    if "count" in frame:
        frame["count"] = frame["count"].fillna(1).astype("int64")
    return frame, duplicates, unmapped, stats[name].rows_unmapped


def _first(result: tuple) -> pd.DataFrame:
    return result[0]


def _without_frame(result: tuple) -> tuple:
    return (None, *result[1:])


def _digest(part: pd.DataFrame, name: str) -> pd.DataFrame:
    """Per account: its earliest and latest date and its number of rows."""
    col = EXPORTS[name].date_column
    out = part.groupby("account_id", observed=True, sort=False)[col].agg(["min", "max", "size"])
    out.index = pd.Index(out.index.astype("str"), dtype="str", name="account_id")
    return out.reset_index()


def _events(part: pd.DataFrame) -> frozenset[str]:
    return events_seen(part)


def _after(part: pd.DataFrame, column: str, end: pd.Timestamp) -> int:
    return int((part[column] >= end).sum())


def _features_part(usage: pd.DataFrame | None, nps: pd.DataFrame | None, tickets: pd.DataFrame | None,
                   payments: pd.DataFrame | None, accounts: pd.DataFrame | None, index: pd.Index,
                   as_of: pd.Timestamp, config: Config, norms: pd.Series, surveyed: bool,
                   accounts_date: pd.Timestamp | None = None, usage_start: pd.Timestamp | None = None) -> pd.DataFrame:
    """build_features on one partition, for the accounts of ``index`` whose rows are in it."""
    given = {"usage": usage, "nps": nps, "tickets": tickets, "payments": payments, "accounts": accounts}
    frames = {name: frame if frame is not None else empty_frame(EXPORTS[name]) for name, frame in given.items()}
    present = pd.Index([], dtype="str")
    for frame in frames.values():
        present = present.union(present_ids(frame["account_id"]))
    in_part = present.get_indexer(index) >= 0  # not Index.isin: seconds for a million string ids
    return build_features(frames, index[in_part], as_of, config, norms=norms, nps_surveyed=surveyed,
                          accounts_date=accounts_date, usage_start=usage_start)


# ----------------------------------------------------------------------------- the engine (client side)


class DaskEngine:
    """One run on a Dask cluster: ``load()``, then ``note_rows()``, then ``features()`` (which closes it).

    ``scheduler``: the address of a running scheduler (tcp://host:8786); None starts a local cluster.
    ``partitions``: how many account partitions (default: twice the workers' threads, at least the number
    of usage files).
    """

    def __init__(self, config: Config, input_dir: str | Path | None = None, *, scheduler: str | None = None,
                 partitions: int | None = None) -> None:
        _, distributed = _dask()
        self.config = config
        self.input_dir = Path(input_dir).absolute() if input_dir is not None else None
        self.partitions = partitions
        self._parts: dict[str, list[Any]] = {}  # export -> futures of its account partitions
        self._digests: dict[str, pd.DataFrame] = {}
        cluster = None
        self._where = f"--scheduler {scheduler}" if scheduler else "the local Dask cluster"
        try:
            if scheduler:
                if distributed.comm.parse_address(scheduler)[0] in ("tcp", "tls"):  # before a Client half-starts
                    distributed.comm.get_address_host_port(scheduler)  # ValueError: no port
                client = distributed.Client(scheduler, timeout="20s", set_as_default=False)
            else:
                cluster = distributed.LocalCluster(dashboard_address=None, silence_logs=logging.ERROR)
                client = distributed.Client(cluster, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ChurnscoreError(f"{self._where}: cannot start or reach a Dask scheduler ({exc}); check the "
                                  "address (tcp://host:8786) and that the scheduler is running.") from None
        self.client = client
        self._finalizer = weakref.finalize(self, _shutdown, client, cluster)
        self._check_workers()

    def _check_workers(self) -> None:
        """Fail early, with what to do, when no worker is there or the workers cannot run this churnscore."""
        try:
            self.client.wait_for_workers(1, timeout=60)
            versions = self.client.run(_worker_version)
        except TimeoutError:
            self.close()
            raise ChurnscoreError(f"{self._where}: the scheduler has no workers; start some "
                                  "(dask worker tcp://host:8786) or use your cluster manager's scale().") from None
        except Exception as exc:  # noqa: BLE001 - a worker that cannot import churnscore fails in many ways
            self.close()
            raise ChurnscoreError(f"{self._where}: the workers cannot run churnscore ({exc}); install "
                                  f"churnscore[dask] on every worker.") from None
        from .version import __version__

        wrong = sorted({v for v in versions.values() if v != __version__})
        if wrong:
            self.close()
            raise ChurnscoreError(f"{self._where}: the workers run churnscore {', '.join(wrong)}, this "
                                  f"client {__version__}; install the same version everywhere.")

    def close(self) -> None:
        """Release the cluster's data, disconnect, and stop the local cluster if this engine started it."""
        self._parts.clear()
        self._finalizer()

    def _n_partitions(self, usage_files: int) -> int:
        if self.partitions:
            return self.partitions
        threads = sum(self.client.nthreads().values())
        return max(2 * threads, usage_files, 1)

    # ------------------------------------------------------------------ load

    def load(self) -> Loaded:
        """Read, parse, dedupe and map every export on the cluster; keep the rows there, by account.

        Returns a Loaded whose rejects and stats are the pandas engine's; its frames hold the accounts
        export and, for the other exports, each account's earliest and latest date.
        """
        try:
            return self._load()
        except BaseException:
            self.close()
            raise

    def _load(self) -> Loaded:
        dd, _ = _dask()
        config, client = self.config, self.client
        inputs = export_files(config, self.input_dir)
        base = inputs.folder
        found: dict[str, list[Path]] = {}
        missing: list[str] = []
        stop: InputDataError | None = None  # what load_all would raise once the exports before it are read
        for name, export in EXPORTS.items():
            if name in inputs.errors:
                stop = inputs.errors[name]
                break
            files = [Path(p).absolute() for p in inputs.files[name]]
            if not files:
                if export.required:
                    stop = no_export_found(name, base)
                    break
                missing.append(name)
                continue
            found[name] = files

        pieces = {name: client.map(_read_file, [str(p) for p in files], [name] * len(files),
                                   [config.inputs[name]] * len(files), pure=False)
                  for name, files in found.items()}
        infos = client.gather({name: client.map(_piece_info, futs) for name, futs in pieces.items()})
        stats: dict[str, FileStats] = {}
        for name, files in found.items():  # errors in the order the pandas engine meets them
            st = FileStats(name, list(files))
            for path, info in zip(files, infos[name]):
                if info.error is not None:
                    raise info.error
                st.columns = info.mapped
                st.rows_read += info.rows_read
                st.file_rows[str(path)] = info.rows_read
            problem = EXPORTS[name].no_rows_problem(str(files[0])) if st.rows_read == 0 else None
            if problem is not None:
                raise InputDataError(problem, file=str(files[0]), line=2)
            stats[name] = st
        if stop is not None:
            raise stop

        n = self._n_partitions(len(found.get("usage", [])))
        sourced = {name for name in found if config.inputs[name].account_source}  # as map_accounts decides
        mapped_exports = sourced if sourced and find_account_map(config, base) is not None else set()
        outcomes = {}  # export -> futures of each partition's (None, duplicates, unmapped rejects, unmapped count)
        for name, files in found.items():  # submitted for every export before waiting for any
            export = EXPORTS[name]
            order = {str(p): i for i, p in enumerate(files)}
            meta = dd.utils.clear_known_categories(_meta(name))
            rows = dd.from_delayed(client.map(_piece_frame, pieces.pop(name)), meta=meta, verify_meta=False)
            key = export.key or "account_id"
            by_key = client.compute(rows.shuffle(on=key, npartitions=n, shuffle_method=SHUFFLE).to_delayed())
            done = client.map(_dedupe_part, by_key, name=name, order=order, config=config, base=base, pure=False)
            frames = client.map(_first, done)
            outcomes[name] = client.map(_without_frame, done)
            if key != "account_id" or name in mapped_exports:  # now by account: the partitions features need
                final_meta = dd.utils.clear_known_categories(empty_frame(export))
                regrouped = dd.from_delayed(frames, meta=final_meta, verify_meta=False)
                by_account = client.compute(regrouped.shuffle(on="account_id", npartitions=n,
                                                              shuffle_method=SHUFFLE).to_delayed())
                frames = client.map(_in_file_order, by_account, order=order)
            self._parts[name] = frames

        read_rejects: list[pd.DataFrame] = []
        map_rejects: list[pd.DataFrame] = []
        for name, results in client.gather(outcomes).items():  # rejects in the pandas engine's order
            order = {str(p): i for i, p in enumerate(found[name])}
            _, dups, unmapped, counts = zip(*results)
            info = infos[name]
            parsed = [i.rejects for i in info]
            in_order = [pd.concat([i.order_rejects for i in info if len(i.order_rejects)], ignore_index=True)
                        if any(len(i.order_rejects) for i in info) else pd.DataFrame(columns=REJECT_COLUMNS)]
            every = parsed + in_order + [file_sorted(list(dups), order)]
            if any(len(r) for r in every):
                read_rejects.append(take_rejected_ids(pd.concat([r for r in every if len(r)], ignore_index=True),
                                                      stats[name]))
            stats[name].rows_rejected = sum(len(r) for r in every)
            if name in mapped_exports:
                stats[name].rows_unmapped = int(sum(counts))
                stats[name].rows_rejected += stats[name].rows_unmapped
                flat = [r for part in unmapped for r in part if len(r)]
                if flat:
                    map_rejects.append(file_sorted(flat, order))
        rejects = read_rejects + map_rejects
        all_rejects = pd.concat(rejects, ignore_index=True) if rejects else pd.DataFrame(columns=REJECT_COLUMNS)
        return Loaded(self._client_frames(found), all_rejects, stats, missing)

    def _client_frames(self, found: dict[str, list[Path]]) -> dict[str, pd.DataFrame]:
        """The accounts export in full; for the other exports, each account's earliest and latest date."""
        client = self.client
        wanted = {name: parts if name == "accounts" else client.map(_digest, parts, name=name)
                  for name, parts in self._parts.items()}
        frames: dict[str, pd.DataFrame] = {}
        for name, parts in client.gather(wanted).items():
            if name == "accounts":
                order = {str(p): i for i, p in enumerate(found[name])}
                frames[name] = _in_file_order(concat_frames([p for p in parts if len(p)] or parts[:1]), order)
                continue
            col = EXPORTS[name].date_column
            digest = pd.concat(parts, ignore_index=True)
            digest = digest.astype({"min": "datetime64[ns]", "max": "datetime64[ns]", "size": "int64"})
            self._digests[name] = digest
            ids = digest["account_id"].astype("str")
            frames[name] = pd.DataFrame({"account_id": pd.concat([ids, ids], ignore_index=True),
                                         col: pd.concat([digest["min"], digest["max"]], ignore_index=True)})
        return frames

    # ------------------------------------------------------------------ counts that need the as-of date

    def note_rows(self, loaded: Loaded, as_of: AsOf) -> RowNotes:
        """universe.note_rows on the cluster's rows: per export, rows after the as-of date and rows for ids
        the accounts export lacks."""
        try:
            end = as_of.end
            known = pd.Index(loaded.frames["accounts"]["account_id"].astype("str")) \
                if "accounts" in loaded.frames else None
            after: dict[str, int] = {}
            unknown_rows: dict[str, int] = {}
            for name, digest in self._digests.items():
                col = EXPORTS[name].date_column
                after[name] = int(sum(self.client.gather(
                    self.client.map(_after, self._parts[name], column=col, end=end))))
                if known is not None:
                    unknown = known.unique().get_indexer(digest["account_id"].astype("str")) < 0
                    unknown_rows[name] = int(digest["size"][unknown].sum())
            return RowNotes(after, unknown_rows)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ events, for the rule checks

    def events_seen(self) -> frozenset[str]:
        """The usage export's event names (rulecheck.events_seen of every partition)."""
        try:
            return frozenset().union(*self.client.gather(self.client.map(_events, self._parts.get("usage", []))))
        except BaseException:
            self.close()
            raise

    def event_accounts(self, index: pd.Index, as_of: pd.Timestamp) -> pd.Series:
        """rulecheck.event_accounts over the partitions (each holds whole accounts: the counts add up)."""
        try:
            where = self.client.scatter(index, broadcast=True)
            parts = self.client.gather(self.client.map(event_accounts, self._parts.get("usage", []), index=where,
                                                       as_of=as_of))
            return added(parts)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ features

    def features(self, index: pd.Index, as_of: AsOf, accounts_date: pd.Timestamp | None = None) -> pd.DataFrame:
        """build_features per account partition; the table on the client, in ``index`` order. Closes the engine."""
        try:
            return self._features(index, as_of.day, accounts_date)
        finally:
            self.close()

    def _features(self, index: pd.Index, as_of: pd.Timestamp,
                  accounts_date: pd.Timestamp | None = None) -> pd.DataFrame:
        import dask

        dd, _ = _dask()
        config, client = self.config, self.client
        colls = {name: dd.from_delayed(parts, meta=dd.utils.clear_known_categories(empty_frame(EXPORTS[name])),
                                       verify_meta=False)
                 for name, parts in self._parts.items()}
        norms = pd.Series([], dtype="float64", index=pd.Index([], dtype="str"))
        if "usage" in colls:  # each event's norm: the median over every account, by a shuffle on the event
            meta = pd.DataFrame({"event": pd.Series([], dtype="str"),
                                 "duration_seconds": pd.Series([], dtype="float64")})
            rows = colls["usage"].map_partitions(norm_rows, as_of, config.windows, config.features, meta=meta)
            norms = client.compute(rows.groupby("event")["duration_seconds"].median(shuffle_method=SHUFFLE)).result()
        surveyed = "nps" in self._digests and int(self._digests["nps"]["size"].sum()) > 0
        usage_start = None  # the first usage day of the accounts scored (features_level.days_covered)
        if "usage" in self._digests:
            first = self._digests["usage"]
            first = first["min"][(index.get_indexer(first["account_id"].astype("str")) >= 0)
                                 & (first["min"] < as_of + pd.Timedelta(days=1))]
            usage_start = first.min() if len(first) else None
        meta = pd.DataFrame({name: pd.Series([], dtype="float64") for name in FEATURE_NAMES},
                            index=pd.Index([], dtype="str", name="account_id"))
        args = [colls.get(name) for name in ("usage", "nps", "tickets", "payments", "accounts")]
        table = dd.map_partitions(_features_part, *args, dask.delayed(index), as_of, config,
                                  dask.delayed(norms), surveyed, accounts_date, usage_start, meta=meta,
                                  align_dataframes=False, enforce_metadata=False)
        table = client.compute(table).result()
        if len(table) != len(index) or (index.get_indexer(table.index) < 0).any():
            raise RuntimeError(f"dask engine: {len(table)} feature rows for {len(index)} accounts")  # a bug, not data
        return table.reindex(index)


def _shutdown(client: Any, cluster: Any) -> None:
    try:
        client.close()
    finally:
        if cluster is not None:
            cluster.close()
