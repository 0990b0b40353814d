"""supply_chain.suppliers on a hand-built ERP frame, and its rules."""

from __future__ import annotations

import pandas as pd

from assets.supply_chain.suppliers import suppliers
from checks.supply_chain.suppliers import Suppliers
from mesh.quality.rules import evaluate_rules, schema_from_model
from tests.supply_chain.frames import dates, day


def erp_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "s_suppkey": [1, 2], "s_name": ["Supplier#1", "Supplier#2"], "s_address": ["a", "b"],
        "s_nationkey": [20, 3], "s_nation": ["SAUDI ARABIA", "CANADA"], "s_region": ["MIDDLE EAST", "NORTH"],
        "s_phone": ["30-123-456-7890", "31-000-000-0000"], "s_acctbal": [-999.99, 12000.0],
        "s_comment": ["", ""], "s_registered": dates("2026-11-01", "2026-11-02"),
    })


def test_suppliers_maps_the_master_record():
    out = suppliers(erp_frame())
    assert list(out.columns) == ["supplier_id", "name", "address", "phone", "nation_id", "nation", "region",
                                 "account_balance_usd", "registered_date"]
    first = out.iloc[0]
    assert (first["supplier_id"], first["name"], first["nation"]) == (1, "Supplier#1", "SAUDI ARABIA")
    assert first["account_balance_usd"] == -999.99 and first["registered_date"] == day("2026-11-01")


def test_rules_find_the_bad_supplier():
    outcomes = {o.rule.name: o for o in evaluate_rules(suppliers(erp_frame()), schema_from_model(Suppliers, []))}
    # supplier 1: Saudi Arabia is nation 20, so its phone starts with 30; supplier 2 (Canada, 3) should start with 13
    assert list(outcomes["phone_matches_nation"].failing) == [False, True]
    assert list(outcomes["known_region"].failing) == [False, True]  # NORTH is no TPC-H region
    # -999.99 is the lowest balance allowed; 12,000 is above the 9,999.99 limit, a warning only
    assert list(outcomes["balance_within_credit_limit"].failing) == [False, True]
    assert outcomes["balance_within_credit_limit"].rule.severity == "warn"
    assert outcomes["phone_matches_nation"].rule.severity == "error"
