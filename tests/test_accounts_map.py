"""The account mapping file in either shape: long (source,key,account_id) or wide (a CRM table: account_id and a
column per tool, named after its source, plus a shared email_domain column)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import config, write_text

from churnscore.load import lookup, read_account_map, wide_column_source
from churnscore.errors import InputDataError
from churnscore.load import load_all

VENDORS = Path(__file__).parent / "fixtures" / "vendors"
def ids(found: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in found]


SOURCES = {"stripe", "zendesk", "recurly", "mixpanel", "segment"}


@pytest.mark.parametrize("header, source", [
    ("stripe_customer_id", "stripe"), ("Stripe customer id", "stripe"), ("zendesk", "zendesk"),
    ("Zendesk-Organization", "zendesk"), ("email_domain", "*"), ("Domain", "*"), ("email", "*"),
    ("name", None), ("csm_owner", None), ("stripey", None), ("segment", "segment")])
def test_a_wide_column_names_its_source_by_its_header(header, source):
    assert wide_column_source(header, SOURCES) == source


def test_a_wide_table_maps_each_tools_keys_and_emails_by_their_domain():
    amap = read_account_map(VENDORS / "crm_accounts.csv", SOURCES)
    keys = pd.Series(["cus_A1", " CUS_B2 ", "cus_ZZ9", "Acme Inc", "acme", None])
    assert ids(lookup(amap, "stripe", keys))[:3] == ["A001", "A002", None]
    assert ids(lookup(amap, "zendesk", pd.Series(["bolt & co", "Corex"]))) == ["A002", None]
    assert ids(lookup(amap, "recurly", pd.Series(["corex", "acme", "bolt"]))) == ["A003", "A001", None]
    # a tool with no column of its own: the shared email_domain column, for addresses and bare domains
    assert ids(lookup(amap, "mixpanel", pd.Series(["carl@corex.com", "bolt.io", "x@unknown.org"]))) == [
        "A003", "A002", None]
    # the stripe column holds no domain, but the shared column serves stripe too
    assert ids(lookup(amap, "stripe", pd.Series(["jane@bolt.io"]))) == ["A002"]


def test_a_tools_own_column_wins_over_the_shared_domain(tmp_path):
    path = write_text(tmp_path / "crm.csv", "account_id,segment_user,email_domain\nA1,jane@acme.com,\nA2,,acme.com\n")
    amap = read_account_map(path, SOURCES)
    assert ids(lookup(amap, "segment", pd.Series(["jane@acme.com", "bob@acme.com"]))) == ["A1", "A2"]
    assert ids(lookup(amap, "mixpanel", pd.Series(["jane@acme.com"]))) == ["A2"]


def test_a_long_table_reads_as_before():
    amap = read_account_map(VENDORS / "account_map.csv")
    assert ids(lookup(amap, "mixpanel", pd.Series(["carl@corex.com", "dan@corex.com", "jo@bolt.io"]))) == [
        "A003", None, "A002"]


@pytest.mark.parametrize("text, message", [
    ("account_id,name,owner\nA1,Acme,Dana\n",
     "crm.csv: no column names a source; a wide account mapping file has account_id and a column per tool named "
     "after its source (stripe_customer_id, zendesk_organization, email_domain ...; sources: mixpanel, recurly, "
     "segment, stripe, zendesk); columns found: account_id, name, owner."),
    ("account_id,stripe_customer_id\nA1,cus_1\n,cus_2\n",
     "crm.csv:3: empty account_id; every row with a key needs its account id."),
    ("account_id,email_domain\nA1,acme.com\nA2,ACME.com\n",
     "crm.csv:3: key 'acme.com' of the shared columns maps to 'A2' here and to 'A1' on line 2; keep one."),
])
def test_a_wide_table_that_cannot_map_stops_naming_the_line(tmp_path, text, message):
    path = write_text(tmp_path / "crm.csv", text)
    with pytest.raises(InputDataError) as exc:
        read_account_map(path, SOURCES)
    assert str(exc.value).replace(str(tmp_path) + "/", "") == message


def test_the_loader_maps_a_stripe_payments_export_through_the_wide_table(tmp_path):
    for name in ("unified_payments.csv", "accounts.csv", "crm_accounts.csv"):
        shutil.copy(VENDORS / name, tmp_path / name)
    write_text(tmp_path / "usage.csv", "account_id,timestamp\nA001,2026-10-30\n")
    cfg = config({"presets": ["stripe_payments"], "inputs": {"payments": {"path": "unified_payments.csv"},
                                                             "account_map": {"path": "crm_accounts.csv"}}}, tmp_path)
    result = load_all(cfg, tmp_path)
    assert result.frame("payments")["account_id"].astype(str).tolist() == ["A002", "A002", "A001", "A001"]
    assert [(int(line), reason) for line, reason in result.rejects[["line", "reason"]].itertuples(index=False)] == [
        (6, "missing payment_id"), (7, "no account mapping for 'cus_ZZ9'")]
