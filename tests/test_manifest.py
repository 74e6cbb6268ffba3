"""manifest.py: input files are hashed (several at once) and recorded in the order the summary lists them."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from churnscore.manifest import EarlyDigests, absolute, build_manifest, sha256_file, sha256_files

EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_sha256_of_files_in_the_order_given(tmp_path):
    big = tmp_path / "big.csv"
    big.write_bytes(b"x" * (3 << 20))  # several read blocks
    (tmp_path / "abc.csv").write_bytes(b"abc")
    (tmp_path / "empty.csv").write_bytes(b"")
    paths = [tmp_path / "abc.csv", big, tmp_path / "empty.csv"]
    assert sha256_files(paths) == [ABC, hashlib.sha256(b"x" * (3 << 20)).hexdigest(), EMPTY]
    assert sha256_files([str(paths[0])]) == [ABC] == [sha256_file(paths[0])]
    assert sha256_files([]) == []


def test_manifest_lists_every_input_with_its_size_hash_and_counts(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"abc")
    (tmp_path / "u1.csv").write_bytes(b"")
    (tmp_path / "u2.csv").write_bytes(b"abc")
    files = {"accounts": {"files": [str(tmp_path / "a.csv")], "per_file": {str(tmp_path / "a.csv"): {
                 "rows_read": 1, "rows_rejected": 0}}},
             "usage": {"files": [str(tmp_path / "u1.csv"), str(tmp_path / "u2.csv")]}}
    summary = {"files": files, "as_of": "2026-10-31", "timings_s": {"load": 1.0},
               **{k: 0 for k in ("accounts_in_inputs", "accounts_scored", "accounts_excluded", "at_risk",
                                 "rows_read", "rows_rejected", "revenue_at_risk")}}
    m = build_manifest(summary, {"ranked": tmp_path / "r.csv"}, config_source="c.yaml", config_hash="h",
                       model_hash=None, started=datetime(2026, 11, 1, tzinfo=timezone.utc))
    assert m["inputs"] == [
        {"export": "accounts", "path": str(tmp_path / "a.csv"), "bytes": 3, "sha256": ABC, "rows_read": 1,
         "rows_rejected": 0},
        {"export": "usage", "path": str(tmp_path / "u1.csv"), "bytes": 0, "sha256": EMPTY, "rows_read": None,
         "rows_rejected": None},
        {"export": "usage", "path": str(tmp_path / "u2.csv"), "bytes": 3, "sha256": ABC, "rows_read": None,
         "rows_rejected": None},
    ]
    assert m["outputs"] == {"ranked": str(tmp_path / "r.csv")}


def test_early_digests_are_used_and_the_files_they_missed_are_hashed_at_the_end(tmp_path):
    (tmp_path / "a.csv").write_bytes(b"abc")
    (tmp_path / "late.csv").write_bytes(b"")
    early = EarlyDigests()
    early.start([tmp_path / "a.csv", tmp_path / "gone.csv"])  # a file it cannot read is left out
    assert early.result() == {str(tmp_path / "a.csv"): ABC}
    (tmp_path / "a.csv").write_bytes(b"changed after the load")  # the hash is of what the load read
    files = {"accounts": {"files": [str(tmp_path / "a.csv"), str(tmp_path / "late.csv")]}}
    summary = {"files": files, "as_of": "2026-10-31", "timings_s": {},
               **{k: 0 for k in ("accounts_in_inputs", "accounts_scored", "accounts_excluded", "at_risk",
                                 "rows_read", "rows_rejected", "revenue_at_risk")}}
    m = build_manifest(summary, {}, config_source="c.yaml", config_hash="h", model_hash=None,
                       started=datetime(2026, 11, 1, tzinfo=timezone.utc), early=early)
    assert [i["sha256"] for i in m["inputs"]] == [ABC, EMPTY]


def test_manifest_paths_are_absolute_and_normalised(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "configs").mkdir()
    (tmp_path / "data" / "u.csv").write_bytes(b"abc")
    monkeypatch.chdir(tmp_path / "configs")
    summary = {"files": {"usage": {"files": ["../data/u.csv"], "per_file": {"../data/u.csv": {
                   "rows_read": 1, "rows_rejected": 0}}}}, "as_of": "2026-10-31", "timings_s": {},
               **{k: 0 for k in ("accounts_in_inputs", "accounts_scored", "accounts_excluded", "at_risk",
                                 "rows_read", "rows_rejected", "revenue_at_risk")}}
    m = build_manifest(summary, {"ranked": tmp_path / "configs" / ".." / "out" / "r.csv"}, config_source="c.yaml",
                       config_hash="h", model_hash=None, started=datetime(2026, 11, 1, tzinfo=timezone.utc))
    root = tmp_path.resolve()
    assert m["config"]["path"] == str(root / "configs" / "c.yaml")
    assert [(i["path"], i["sha256"], i["rows_read"]) for i in m["inputs"]] == [(str(root / "data" / "u.csv"), ABC, 1)]
    assert m["files"]["usage"]["files"] == [str(root / "data" / "u.csv")]
    assert m["files"]["usage"]["per_file"] == {str(root / "data" / "u.csv"): {"rows_read": 1, "rows_rejected": 0}}
    assert m["outputs"] == {"ranked": str(root / "out" / "r.csv")}
    assert summary["files"]["usage"]["files"] == ["../data/u.csv"]  # the summary itself is left as it was
    assert absolute("<dict>") == "<dict>"
