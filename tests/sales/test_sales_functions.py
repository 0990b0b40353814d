"""The sales domain's transformations on small hand-built frames, with expected values worked out by hand."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from assets.sales.customer_revenue import customer_revenue
from assets.sales.order_lines import order_lines
from assets.sales.orders import orders
from assets.sales.pricing_summary import pricing_summary

D = pd.ArrowDtype(pa.date32())


def dates(*days: str) -> pd.Series:
    return pd.Series([dt.date.fromisoformat(d) for d in days], dtype=D)


def test_orders_renames_erp_columns():
    erp = pd.DataFrame({"o_orderkey": [7], "o_custkey": [3], "o_orderstatus": ["O"], "o_totalprice": [10.5],
                        "o_orderdate": dates("2026-11-01"), "o_orderpriority": ["1-URGENT"], "o_clerk": ["Clerk#1"],
                        "o_shippriority": [0], "o_comment": ["x"]})
    out = orders(erp)
    assert out.to_dict("records") == [{"order_id": 7, "customer_id": 3, "status": "O", "total_price_usd": 10.5,
                                       "order_date": dt.date(2026, 11, 1), "priority": "1-URGENT",
                                       "clerk": "Clerk#1", "ship_priority": 0}]


def test_order_lines_keep_the_source_index_for_lineage():
    erp = pd.DataFrame({c: [1] for c in ("l_orderkey", "l_partkey", "l_suppkey", "l_linenumber")}
                       | {"l_quantity": [2.0], "l_extendedprice": [20.0], "l_discount": [0.1], "l_tax": [0.0],
                          "l_returnflag": ["N"], "l_linestatus": ["O"], "l_shipdate": dates("2026-11-02"),
                          "l_commitdate": dates("2026-11-03"), "l_receiptdate": dates("2026-11-04"),
                          "l_shipinstruct": ["NONE"], "l_shipmode": ["AIR"], "l_comment": ["c"],
                          "o_orderdate": dates("2026-11-01")}, index=[10**12 + 5])
    out = order_lines(erp)
    assert list(out.index) == [10**12 + 5]
    assert out.loc[10**12 + 5, "extended_price_usd"] == 20.0


def test_pricing_summary_sums_by_ship_date_flag_and_status():
    con = duckdb.connect()
    lines = pd.DataFrame({
        "order_date": dates("2026-11-01", "2026-11-01", "2026-11-01"),
        "ship_date": dates("2026-11-05", "2026-11-05", "2026-11-06"),
        "return_flag": ["N", "N", "R"], "line_status": ["O", "O", "F"],
        "quantity": [2.0, 3.0, 1.0], "extended_price_usd": [100.0, 200.0, 50.0],
        "discount": [0.10, 0.0, 0.5], "tax": [0.0, 0.5, 0.0],
    })
    con.register("lines_input", lines)  # a relation over another name, as the pipeline passes it
    out = pricing_summary(con.table("lines_input")).df().sort_values("ship_date").reset_index(drop=True)
    assert len(out) == 2
    first = out.iloc[0]
    # 100 x 0.9 = 90 and 200 x 1.0 = 200 discounted; charges 90 x 1.0 + 200 x 1.5 = 390
    assert first["sum_quantity"] == 5.0
    assert first["sum_base_price_usd"] == 300.0
    assert first["sum_discounted_price_usd"] == pytest.approx(290.0)
    assert first["sum_charge_usd"] == pytest.approx(390.0)
    assert first["sum_discount"] == pytest.approx(0.10)
    assert first["line_count"] == 2
    assert out.iloc[1]["sum_discounted_price_usd"] == pytest.approx(25.0)


def test_customer_revenue_counts_orders_and_keeps_unknown_customers():
    customers = pd.DataFrame({"customer_id": [1, 2], "nation": ["FRANCE", "CHINA"], "region": ["EUROPE", "ASIA"],
                              "market_segment": ["BUILDING", "MACHINERY"]})
    placed = pd.DataFrame({"order_id": [10, 11, 12], "customer_id": [1, 1, 3],
                           "total_price_usd": [100.0, 50.0, 7.0],
                           "order_date": dates("2026-11-03", "2026-11-01", "2026-11-02")})
    out = customer_revenue(placed, customers).set_index("customer_id")
    assert out.loc[1, "order_count"] == 2 and out.loc[1, "revenue_usd"] == 150.0
    assert out.loc[1, "first_order_date"] == dt.date(2026, 11, 1)
    assert out.loc[1, "last_order_date"] == dt.date(2026, 11, 3)
    assert out.loc[2, "order_count"] == 0 and out.loc[2, "revenue_usd"] == 0.0
    assert pd.isna(out.loc[2, "first_order_date"])
    # customer 3 is not in the master: its revenue is kept, its geography unknown
    assert out.loc[3, "revenue_usd"] == 7.0 and pd.isna(out.loc[3, "nation"])
