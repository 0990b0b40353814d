"""Products that compute what TPC-H defines agree with TPC-H queries run independently on the raw tables.

The whole history of the customer and sales domains is materialized in one ranged run; the
references are computed by DuckDB over the Parquet tables tpchgen-cli generated, with exact
DECIMAL arithmetic, then compared to the cent.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest

from operational.erp import TPCH_FIRST_DAY, ErpSettings, tpch_dir

SHIFT = ErpSettings().shift_days
FIRST, LAST = ErpSettings().epoch.isoformat(), ErpSettings().last_day.isoformat()  # the whole history


@pytest.fixture(scope="module")
def history(tmp_path_factory, erp_root):
    from tests.conftest import ERP_DOMAINS, MeshEnv

    env = MeshEnv(tmp_path_factory.mktemp("tpch") / "products", erp_root)
    result = env.materialize(FIRST, LAST, domains=ERP_DOMAINS)
    assert result.success
    return env


def rebased(day: date) -> date:
    return day + timedelta(days=SHIFT)


def q1(con: duckdb.DuckDBPyConnection, cutoff: date) -> dict:
    rows = con.sql(f"""
        SELECT l_returnflag, l_linestatus, sum(l_quantity) AS sum_qty, sum(l_extendedprice) AS sum_base_price,
               sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price,
               sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge,
               avg(l_quantity) AS avg_qty, avg(l_extendedprice) AS avg_price, avg(l_discount) AS avg_disc,
               count(*) AS count_order
        FROM lineitem WHERE l_shipdate <= DATE '{cutoff}'
        GROUP BY ALL ORDER BY ALL""").fetchall()
    return {(r[0], r[1]): [float(v) for v in r[2:]] for r in rows}


@pytest.mark.parametrize("cutoff", [date(1998, 12, 1) - timedelta(days=90), date(1995, 6, 17), date(1993, 3, 1)])
def test_pricing_summary_equals_q1(history, erp_root, cutoff):
    raw = duckdb.connect()
    raw.execute(f"CREATE VIEW lineitem AS SELECT * FROM '{tpch_dir(erp_root, 0.01) / 'lineitem.parquet'}'")
    expected = q1(raw, cutoff)
    mine = history.port().sql(f"""
        SELECT return_flag, line_status, sum(sum_quantity), sum(sum_base_price_usd), sum(sum_discounted_price_usd),
               sum(sum_charge_usd), sum(sum_quantity) / sum(line_count), sum(sum_base_price_usd) / sum(line_count),
               sum(sum_discount) / sum(line_count), sum(line_count)
        FROM sales.pricing_summary WHERE ship_date <= DATE '{rebased(cutoff)}'
        GROUP BY ALL ORDER BY ALL""").to_pylist()
    actual = {(r["return_flag"], r["line_status"]): list(r.values())[2:] for r in mine}
    assert actual.keys() == expected.keys()
    for group, values in expected.items():
        sums, averages, count = values[:4], values[4:7], values[7]
        assert actual[group][:4] == pytest.approx(sums, abs=0.005), group  # to the cent
        assert actual[group][4:7] == pytest.approx(averages, rel=1e-9), group
        assert actual[group][7] == count, group


def test_customer_revenue_matches_independent_query(history, erp_root):
    raw = duckdb.connect()
    orders = tpch_dir(erp_root, 0.01) / "orders.parquet"
    expected = {
        r[0]: (r[1], float(r[2]), r[3], r[4])
        for r in raw.sql(f"""
            SELECT o_custkey, count(*), sum(o_totalprice), min(o_orderdate) + INTERVAL {SHIFT} DAY,
                   max(o_orderdate) + INTERVAL {SHIFT} DAY
            FROM '{orders}' GROUP BY 1""").fetchall()
    }
    rows = history.port().sql("SELECT * FROM sales.customer_revenue").to_pylist()
    by_customer = {r["customer_id"]: r for r in rows}
    customers = raw.execute(f"SELECT count(*) FROM '{tpch_dir(erp_root, 0.01) / 'customer.parquet'}'").fetchone()[0]
    assert len(by_customer) == customers  # every registered customer, with or without orders
    for customer, (count, revenue, first, last) in expected.items():
        row = by_customer[customer]
        assert row["order_count"] == count
        assert row["revenue_usd"] == pytest.approx(revenue, abs=0.005)
        assert row["first_order_date"] == first.date() and row["last_order_date"] == last.date()
    silent = [r for r in rows if r["customer_id"] not in expected]
    assert all(r["order_count"] == 0 and r["revenue_usd"] == 0 for r in silent)
    assert all(r["nation"] is not None for r in rows)  # the whole master is published


def test_history_covers_every_day(history):
    orders = history.port().sql("SELECT min(order_date) AS a, max(order_date) AS b FROM sales.orders").to_pylist()[0]
    assert orders["a"] == rebased(TPCH_FIRST_DAY)
    assert orders["b"] == rebased(date(1998, 8, 2))
