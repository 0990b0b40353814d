"""Products that compute what TPC-H defines agree with TPC-H queries run independently on the raw tables.

The whole history of the customer and sales domains, and what Q21 needs of supply_chain (the
supplier master and supplier_performance), is materialized once in one ranged run; the references
are computed by DuckDB over the Parquet tables tpchgen-cli generated, with exact DECIMAL arithmetic,
then compared to the cent.

Q21 (suppliers who kept orders waiting) runs for each of the 25 nations instead of only SAUDI
ARABIA, without its LIMIT; the product's kept_waiting_lines summed over months per supplier must
equal Q21's numwait per supplier.
"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg
import duckdb
import pytest

from operational.erp import TPCH_FIRST_DAY, ErpSettings, tpch_dir

pytestmark = pytest.mark.slow  # the whole history

SHIFT = ErpSettings().shift_days
FIRST, LAST = ErpSettings().epoch.isoformat(), ErpSettings().last_day.isoformat()  # the whole history
SELECTION = dg.AssetSelection.groups("customer", "sales") | dg.AssetSelection.assets(
    ["supply_chain", "suppliers"], ["supply_chain", "supplier_performance"])
Q21 = """
    SELECT n_name, s_name, count(*) AS numwait
    FROM supplier, lineitem l1, orders, nation
    WHERE s_suppkey = l1.l_suppkey AND o_orderkey = l1.l_orderkey AND o_orderstatus = 'F'
      AND l1.l_receiptdate > l1.l_commitdate
      AND EXISTS (SELECT * FROM lineitem l2 WHERE l2.l_orderkey = l1.l_orderkey AND l2.l_suppkey <> l1.l_suppkey)
      AND NOT EXISTS (SELECT * FROM lineitem l3 WHERE l3.l_orderkey = l1.l_orderkey
                      AND l3.l_suppkey <> l1.l_suppkey AND l3.l_receiptdate > l3.l_commitdate)
      AND s_nationkey = n_nationkey
    GROUP BY n_name, s_name
"""


@pytest.fixture(scope="module")
def history(tmp_path_factory, erp_root):
    from tests.conftest import MeshEnv

    env = MeshEnv(tmp_path_factory.mktemp("tpch") / "products", erp_root)
    result = env.materialize(FIRST, LAST, domains=["customer", "sales", "supply_chain"], selection=SELECTION)
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


# -- Q21: suppliers who kept orders waiting ----------------------------------------------------------------
@pytest.fixture(scope="module")
def q21(erp_root) -> dict[str, dict[str, int]]:
    """Q21's numwait per nation and supplier name, over the raw generated tables."""
    raw = duckdb.connect()
    for table in ("supplier", "lineitem", "orders", "nation"):
        raw.execute(f"CREATE VIEW {table} AS SELECT * FROM '{tpch_dir(erp_root, 0.01) / (table + '.parquet')}'")
    answer: dict[str, dict[str, int]] = {}
    for nation, supplier, numwait in raw.sql(Q21).fetchall():
        answer.setdefault(nation, {})[supplier] = numwait
    return answer


def test_kept_waiting_lines_equal_q21_for_every_nation(history, q21):
    rows = history.port().sql("""
        SELECT nation, supplier_name, sum(kept_waiting_lines) AS kept_waiting
        FROM supply_chain.supplier_performance GROUP BY ALL HAVING sum(kept_waiting_lines) > 0""").to_pylist()
    mine: dict[str, dict[str, int]] = {}
    for row in rows:
        mine.setdefault(row["nation"], {})[row["supplier_name"]] = row["kept_waiting"]
    assert len(q21) == 25 and sum(sum(s.values()) for s in q21.values()) > 500
    for nation, expected in q21.items():
        assert mine.get(nation) == expected, nation
    assert mine.keys() == q21.keys()


def test_q21_for_saudi_arabia_as_the_specification_asks(history, q21):
    rows = history.port().sql("""
        SELECT supplier_name AS s_name, sum(kept_waiting_lines) AS numwait FROM supply_chain.supplier_performance
        WHERE nation = 'SAUDI ARABIA' GROUP BY ALL HAVING numwait > 0
        ORDER BY numwait DESC, s_name LIMIT 100""").to_pylist()
    expected = sorted(q21["SAUDI ARABIA"].items(), key=lambda item: (-item[1], item[0]))
    assert [(r["s_name"], r["numwait"]) for r in rows] == expected and expected
