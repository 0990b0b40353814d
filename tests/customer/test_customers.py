"""customer.customers on a hand-built frame, and its rules."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa

from assets.customer.customers import customers
from checks.customer.customers import Customers
from mesh.quality.rules import evaluate_rules, schema_from_model


def erp_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "c_custkey": [1, 2], "c_name": ["Customer#1", "Customer#2"], "c_address": ["a", "b"],
        "c_nationkey": [6, 21], "c_nation": ["FRANCE", "VIETNAM"], "c_region": ["EUROPE", "ASIA"],
        "c_phone": ["16-123-456-7890", "11-000-000-0000"], "c_acctbal": [100.0, -2000.0],
        "c_mktsegment": ["BUILDING", "SPACE"], "c_comment": ["", ""],
        "c_registered": pd.Series([dt.date(2026, 11, 1)] * 2, dtype=pd.ArrowDtype(pa.date32())),
    })


def test_customers_maps_the_master_record():
    out = customers(erp_frame())
    assert list(out.columns) == ["customer_id", "name", "address", "phone", "nation_id", "nation", "region",
                                 "market_segment", "account_balance_usd", "registered_date"]
    assert out.iloc[0]["nation"] == "FRANCE" and out.iloc[0]["registered_date"] == dt.date(2026, 11, 1)


def test_rules_find_the_bad_customer():
    schema = schema_from_model(Customers, ["customer_id"])
    outcomes = {o.rule.name: o for o in evaluate_rules(customers(erp_frame()), schema)}
    # customer 2 is in Vietnam (nation key 21): its phone code should be 31, not 11
    assert list(outcomes["phone_matches_nation"].failing) == [False, True]
    assert list(outcomes["known_market_segment"].failing) == [False, True]
    assert list(outcomes["balance_within_credit_limit"].failing) == [False, True]
    assert outcomes["balance_within_credit_limit"].rule.severity == "warn"
    assert outcomes["known_market_segment"].rule.severity == "error"
