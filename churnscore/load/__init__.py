"""Read each export, map its columns onto the contract, parse types, and collect the rows that break it.

Every row read ends up either in a typed frame or in the rejects table (file, line, column, value,
reason); nothing is dropped silently. Line numbers are a CSV file's lines as an editor shows them, the header
line 1: a record that a quoted line break spreads over several lines has the line it starts on (see
text_breaks). Parquet rows, which have no lines, are numbered 2, 3, ... as if under a header.

The modules, in the order the data goes through them (each imports only those above it):

- ``rejects``: the rejects table's columns, and rejects kept on disk (RejectStore)
- ``frames``: the empty frame of an export, each account's two dates, stacking pieces into one frame
- ``result``: what a load returns (Loaded, FileStats) and the reject policy (reject_limit_problem)
- ``find``: the input folder and each export's files (export_files), "no usage export found"
- ``sniff``, ``headrows``: encoding, separator, header and the vendor rows above or below it
- ``csvfile``, ``parquetfile``, ``jsonfile``: reading each format in batches; the CSV retry ladder
- ``values``, ``parse``: typed values, and the rows that break the contract as rejects (parse_table)
- ``lines``: the line breaks inside quoted values, which move a record's line
- ``hashing``, ``codes``: 64-bit hashes of values and rows; codes for repeated values (KeyTable, Codebook)
- ``duplicates``: duplicate rows, repeated keys, times in the wrong order
- ``spill``, ``rows``: an export's rows gathered as compact columns, in memory or on disk by account
- ``accounts_map``: vendor keys turned into account ids (account_map.csv)
- ``readahead``: the thread that parses the next batches while the last ones are worked on
- ``read``: one file, and all files of one export (read_file, read_export)
- ``orchestrate``: every export of a run (load_all)
"""

from .accounts_map import (ANY_SOURCE, AccountMap, find_account_map, lookup, map_accounts, preset_sources,
                           read_account_map, wide_column_source)
from .codes import Codebook, KeyTable
from .duplicates import check_order, dedupe, repeat_candidates
from .find import ExportFiles, export_files, input_folder, looked_for, no_export_found
from .frames import (assemble, concat_frames, date_digest, empty_frame, file_order, file_sorted, fill_counts,
                     narrow_lines, two_dates, unique_dtype)
from .hashing import row_hashes, text_hash
from .jsonfile import is_json, open_member, zip_members
from .lines import breaks_before, line_break_anywhere, text_breaks
from .orchestrate import load_all
from .parse import encode_clean, parse_table
from .read import open_batches, read_export, read_file
from .readahead import Prefetch, read_ahead
from .rejects import REJECT_COLUMNS, RejectStore
from .result import FileStats, Loaded, reject_limit_problem, take_rejected_ids
from .spill import UsageSpill, parts_to_spill, remove_leftovers
from .values import parse_formatted, parse_numbers, parse_times

__all__ = [
    "ANY_SOURCE", "AccountMap", "Codebook", "ExportFiles", "FileStats", "KeyTable", "Loaded", "Prefetch",
    "REJECT_COLUMNS", "RejectStore", "UsageSpill",
    "assemble", "breaks_before", "check_order", "concat_frames", "date_digest", "dedupe", "empty_frame",
    "encode_clean", "export_files", "file_order", "file_sorted", "fill_counts", "find_account_map",
    "input_folder", "is_json", "line_break_anywhere", "load_all", "looked_for", "lookup", "map_accounts",
    "narrow_lines", "no_export_found", "open_batches", "open_member", "parse_formatted", "parse_numbers",
    "parse_table", "parse_times", "parts_to_spill", "preset_sources", "read_account_map", "read_ahead",
    "read_export", "read_file", "reject_limit_problem", "remove_leftovers", "repeat_candidates", "row_hashes",
    "take_rejected_ids", "text_breaks", "text_hash", "two_dates", "unique_dtype", "wide_column_source",
    "zip_members",
]
