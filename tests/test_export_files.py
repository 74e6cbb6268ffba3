"""load.export_files: the one place the input folder and each export's files are resolved (load_all, validate,
the Dask engine and the run's list of inputs all ask it)."""

from __future__ import annotations

import pytest
from conftest import config, write_text

from churnscore.errors import InputDataError
from churnscore.load import export_files, input_folder, looked_for

USAGE = "account_id,timestamp,event\nA1,2024-03-01T10:00:00Z,login\n"


def test_each_export_has_its_files_and_the_absent_ones_are_missing(tmp_path):
    write_text(tmp_path / "usage.csv", USAGE)
    write_text(tmp_path / "nps" / "a.csv", "account_id,responded_at,score\n")
    write_text(tmp_path / "nps" / "b.csv", "account_id,responded_at,score\n")
    found = export_files(config(None, base_dir=tmp_path), tmp_path)
    assert found.folder == tmp_path
    assert found.files == {"accounts": [], "usage": [tmp_path / "usage.csv"], "nps": [tmp_path / "nps" / "a.csv",
                           tmp_path / "nps" / "b.csv"], "tickets": [], "payments": []}
    assert found.missing == ["accounts", "tickets", "payments"] and found.errors == {}
    found.check()  # usage is there: nothing stops the load


def test_a_problem_with_one_export_is_kept_for_it_and_raised_before_a_missing_usage(tmp_path):
    write_text(tmp_path / "tickets.csv", "account_id,created_at\n")
    write_text(tmp_path / "tickets" / "t.csv", "account_id,created_at\n")
    found = export_files(config(None, base_dir=tmp_path), tmp_path)
    assert list(found.errors) == ["tickets"] and found.files["tickets"] == []
    assert found.missing == ["accounts", "usage", "nps", "payments"]
    message = (f"tickets: more than one tickets export in the input folder: {tmp_path / 'tickets.csv'} and "
               f"{tmp_path / 'tickets'}/. Keep one, or set inputs.tickets.path in the config to the one to read.")
    with pytest.raises(InputDataError) as err:
        found.check()
    assert str(err.value) == message
    with pytest.raises(InputDataError) as err:
        found.check(required=False)
    assert str(err.value) == message
    (tmp_path / "tickets.csv").unlink()
    with pytest.raises(InputDataError) as err:
        export_files(config(None, base_dir=tmp_path), tmp_path).check()
    assert str(err.value) == (f"{tmp_path}: no usage export found (looked for usage.csv, usage.csv.gz, usage.parquet "
                              "or a folder usage/); usage is required.")
    export_files(config(None, base_dir=tmp_path), tmp_path).check(required=False)  # only what could not be resolved


def test_the_input_folder_is_the_option_else_the_configs_and_must_exist_unless_told(tmp_path):
    cfg = config({"input_dir": "exports"}, base_dir=tmp_path)
    assert input_folder(cfg, None, must_exist=False) == tmp_path / "exports"
    with pytest.raises(InputDataError) as err:
        export_files(cfg, None)
    assert str(err.value) == (f"{tmp_path / 'exports'}: input folder not found (--input-dir or input_dir in the "
                              "config).")
    absent = export_files(cfg, None, folder_must_exist=False)
    assert absent.folder == tmp_path / "exports" and absent.missing == list(absent.files)
    write_text(tmp_path / "other" / "usage.csv", USAGE)
    assert export_files(cfg, tmp_path / "other").files["usage"] == [tmp_path / "other" / "usage.csv"]
    assert input_folder(config(None, base_dir=tmp_path), None) is None
    assert looked_for("nps") == "looked for nps.csv, nps.csv.gz, nps.parquet or a folder nps/"
