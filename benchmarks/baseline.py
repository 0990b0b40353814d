"""The baseline: the mesh's products as plain DuckDB SQL scripts, one query per product.

This is what a team would write without the platform: read the same Parquet feed files of the
window, rename and filter as ``assets/<domain>/<product>.py`` does, write Parquet (one file per
daily partition, like the product store). No validation, quarantine, manifests or Dagster.
A product without a query here is listed as uncovered in the results, never silently skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class Query:
    sql: str  # a SELECT; {feed:<name>} reads the window's files of an ERP feed, {product:<address>} an output
    partition_column: str | None  # written as one file per value, or one file when None


def _rename(pairs: str) -> str:
    return ",\n".join(f"{source} AS {target}" for source, target in
                      (p.split("->") for p in pairs.split()))


QUERIES: dict[str, Query] = {
    "customer.customers": Query(f"""
        SELECT {_rename('c_custkey->customer_id c_name->name c_address->address c_phone->phone '
                        'c_nationkey->nation_id c_nation->nation c_region->region c_mktsegment->market_segment '
                        'c_acctbal->account_balance_usd c_registered->registered_date')}
        FROM {{feed:customers}} WHERE c_registered BETWEEN {{start}} AND {{end}}""", "registered_date"),
    "sales.orders": Query(f"""
        SELECT {_rename('o_orderkey->order_id o_custkey->customer_id o_orderstatus->status '
                        'o_totalprice->total_price_usd o_orderdate->order_date o_orderpriority->priority '
                        'o_clerk->clerk o_shippriority->ship_priority')}
        FROM {{feed:orders}} WHERE o_orderdate BETWEEN {{start}} AND {{end}}""", "order_date"),
    "sales.order_lines": Query(f"""
        SELECT {_rename('l_orderkey->order_id l_linenumber->line_number l_partkey->part_id '
                        'l_suppkey->supplier_id l_quantity->quantity l_extendedprice->extended_price_usd '
                        'l_discount->discount l_tax->tax l_returnflag->return_flag l_linestatus->line_status '
                        'l_shipdate->ship_date l_commitdate->commit_date l_receiptdate->receipt_date '
                        'l_shipinstruct->ship_instruction l_shipmode->ship_mode o_orderdate->order_date')}
        FROM {{feed:lineitems}} WHERE o_orderdate BETWEEN {{start}} AND {{end}}""", "order_date"),
    "sales.pricing_summary": Query("""
        SELECT order_date, ship_date, return_flag, line_status,
               sum(quantity) AS sum_quantity,
               sum(extended_price_usd) AS sum_base_price_usd,
               sum(extended_price_usd * (1 - discount)) AS sum_discounted_price_usd,
               sum(extended_price_usd * (1 - discount) * (1 + tax)) AS sum_charge_usd,
               sum(discount) AS sum_discount,
               count(*) AS line_count
        FROM {product:sales.order_lines}
        GROUP BY ALL ORDER BY ALL""", "order_date"),
    "sales.customer_revenue": Query("""
        WITH per_customer AS (
            SELECT customer_id, count(order_id) AS order_count, sum(total_price_usd) AS revenue_usd,
                   min(order_date) AS first_order_date, max(order_date) AS last_order_date
            FROM {product:sales.orders} GROUP BY customer_id)
        SELECT customer_id, m.nation, m.region, m.market_segment,
               coalesce(p.order_count, 0) AS order_count, coalesce(p.revenue_usd, 0.0) AS revenue_usd,
               p.first_order_date, p.last_order_date
        FROM (SELECT customer_id, nation, region, market_segment FROM {product:customer.customers}) m
        FULL OUTER JOIN per_customer p USING (customer_id)
        ORDER BY customer_id""", None),
    # supply_chain: the renames of its source-aligned products, and its SQL products run once over the window
    "supply_chain.suppliers": Query(f"""
        SELECT {_rename('s_suppkey->supplier_id s_name->name s_address->address s_phone->phone '
                        's_nationkey->nation_id s_nation->nation s_region->region s_acctbal->account_balance_usd '
                        's_registered->registered_date')}
        FROM {{feed:suppliers}} WHERE s_registered BETWEEN {{start}} AND {{end}}""", "registered_date"),
    "supply_chain.parts": Query(f"""
        SELECT {_rename('p_partkey->part_id p_name->name p_mfgr->manufacturer p_brand->brand p_type->part_type '
                        'p_size->size p_container->container p_retailprice->retail_price_usd '
                        'p_registered->registered_date')}
        FROM {{feed:parts}} WHERE p_registered BETWEEN {{start}} AND {{end}}""", "registered_date"),
    "supply_chain.part_suppliers": Query(f"""
        SELECT {_rename('ps_partkey->part_id ps_suppkey->supplier_id ps_supplycost->supply_cost_usd '
                        'ps_availqty->initial_quantity ps_registered->registered_date')}
        FROM {{feed:partsupp}} WHERE ps_registered BETWEEN {{start}} AND {{end}}""", "registered_date"),
    "supply_chain.replenishments": Query(f"""
        SELECT {_rename('r_partkey->part_id r_suppkey->supplier_id r_received->received_date '
                        'r_quantity->received_quantity')}
        FROM {{feed:replenishments}} WHERE r_received BETWEEN {{start}} AND {{end}}""", "received_date"),
    "supply_chain.delivery_timelines": Query("""
        SELECT order_id, order_date, count(*) AS line_count, count(DISTINCT supplier_id) AS supplier_count,
               min(ship_date) AS first_ship_date, max(ship_date) AS last_ship_date,
               min(commit_date) AS first_commit_date, max(commit_date) AS last_commit_date,
               min(receipt_date) AS first_receipt_date, max(receipt_date) AS last_receipt_date,
               datediff('day', order_date, max(receipt_date)) AS lead_time_days,
               count(*) FILTER (WHERE receipt_date > commit_date) AS late_line_count,
               greatest(max(datediff('day', commit_date, receipt_date)), 0) AS delay_days,
               bool_or(receipt_date > commit_date) AS is_late
        FROM {product:sales.order_lines} GROUP BY order_id, order_date
        HAVING max(receipt_date) BETWEEN {start} AND {end} ORDER BY order_id""", "last_receipt_date"),
    "supply_chain.inventory_levels": Query("""
        WITH movements AS (
            SELECT part_id, supplier_id, registered_date AS day, CAST(initial_quantity AS DOUBLE) AS registered,
                   0.0 AS shipped, 0.0 AS replenished
            FROM {product:supply_chain.part_suppliers} WHERE registered_date <= {end}
            UNION ALL
            SELECT part_id, supplier_id, ship_date, 0.0, quantity, 0.0
            FROM {product:sales.order_lines} WHERE ship_date <= {end}
            UNION ALL
            SELECT part_id, supplier_id, received_date, 0.0, 0.0, CAST(received_quantity AS DOUBLE)
            FROM {product:supply_chain.replenishments} WHERE received_date <= {end}),
        opening AS (
            SELECT part_id, supplier_id, sum(registered - shipped + replenished) AS quantity
            FROM movements WHERE day < {start} GROUP BY ALL),
        moved AS (
            SELECT day AS snapshot_date, part_id, supplier_id, sum(registered) AS registered_quantity,
                   sum(shipped) AS shipped_quantity, sum(replenished) AS replenished_quantity
            FROM movements WHERE day >= {start} GROUP BY ALL)
        SELECT m.*, coalesce(o.quantity, 0) + sum(registered_quantity - shipped_quantity + replenished_quantity)
                   OVER (PARTITION BY m.part_id, m.supplier_id ORDER BY snapshot_date) AS available_quantity
        FROM moved m LEFT JOIN opening o USING (part_id, supplier_id)
        ORDER BY snapshot_date, part_id, supplier_id""", "snapshot_date"),
    "supply_chain.supplier_performance": Query("""
        WITH lines AS (
            SELECT order_id, supplier_id, commit_date, receipt_date, return_flag,
                   receipt_date > commit_date AS is_late
            FROM {product:sales.order_lines}),
        per_order AS (
            SELECT l.order_id, any_value(o.status) AS status, count(DISTINCT l.supplier_id) AS supplier_count,
                   count(DISTINCT l.supplier_id) FILTER (WHERE l.is_late) AS late_supplier_count
            FROM lines l LEFT JOIN {product:sales.orders} o USING (order_id) GROUP BY l.order_id),
        measures AS (
            SELECT supplier_id, CAST(date_trunc('month', receipt_date) AS DATE) AS receipt_month,
                   count(*) AS lines_delivered, count(*) FILTER (WHERE NOT is_late) AS on_time_lines,
                   avg(greatest(datediff('day', commit_date, receipt_date), 0)) AS average_delay_days,
                   count(*) FILTER (WHERE return_flag = 'R') AS returned_lines,
                   count(*) FILTER (WHERE is_late AND status = 'F' AND supplier_count > 1
                                    AND late_supplier_count = 1) AS kept_waiting_lines
            FROM lines JOIN per_order USING (order_id)
            WHERE receipt_date <= (SELECT max(order_date) FROM {product:sales.order_lines})
            GROUP BY ALL)
        SELECT m.supplier_id, s.name AS supplier_name, s.nation, m.receipt_month, m.lines_delivered,
               m.on_time_lines, m.on_time_lines / m.lines_delivered AS on_time_rate, m.average_delay_days,
               m.returned_lines, m.returned_lines / m.lines_delivered AS return_rate, m.kept_waiting_lines
        FROM measures m LEFT JOIN (
            SELECT supplier_id, arg_max(name, registered_date) AS name, arg_max(nation, registered_date) AS nation
            FROM {product:supply_chain.suppliers} GROUP BY supplier_id) s USING (supplier_id)
        ORDER BY m.supplier_id, m.receipt_month""", None),
    "supply_chain.stockout_alerts": Query("""
        WITH ordered AS (
            SELECT part_id, supplier_id, order_date AS day, sum(quantity) AS quantity
            FROM {product:sales.order_lines} WHERE order_date <= {end} GROUP BY ALL),
        demand_changes AS (
            SELECT part_id, supplier_id, day, quantity AS change FROM ordered
            UNION ALL
            SELECT part_id, supplier_id, day + 28, -quantity FROM ordered),
        demand AS (
            SELECT part_id, supplier_id, day,
                   sum(sum(change)) OVER (PARTITION BY part_id, supplier_id ORDER BY day) AS trailing_quantity
            FROM demand_changes WHERE day <= {end} GROUP BY part_id, supplier_id, day),
        stock AS (
            SELECT part_id, supplier_id, snapshot_date AS day, available_quantity
            FROM {product:supply_chain.inventory_levels}
                SEMI JOIN (SELECT DISTINCT part_id, supplier_id FROM ordered) USING (part_id, supplier_id)
            WHERE snapshot_date <= {end}),
        changes AS (SELECT part_id, supplier_id, day FROM demand UNION SELECT part_id, supplier_id, day FROM stock),
        states AS (
            SELECT c.part_id, c.supplier_id, c.day,
                   lead(c.day) OVER (PARTITION BY c.part_id, c.supplier_id ORDER BY c.day) AS next_day,
                   coalesce(s.available_quantity, 0) AS available_quantity,
                   coalesce(d.trailing_quantity, 0) AS trailing_demand_quantity
            FROM changes c
            ASOF LEFT JOIN demand d ON c.part_id = d.part_id AND c.supplier_id = d.supplier_id AND c.day >= d.day
            ASOF LEFT JOIN stock s ON c.part_id = s.part_id AND c.supplier_id = s.supplier_id AND c.day >= s.day),
        judged AS (
            SELECT *, trailing_demand_quantity / 28 AS daily_demand_quantity,
                   greatest(available_quantity, 0) / (trailing_demand_quantity / 28) AS days_of_cover
            FROM states WHERE trailing_demand_quantity > 0 AND coalesce(next_day, {end} + 1) > {start}),
        alerts AS (SELECT * FROM judged WHERE days_of_cover < 30.0),
        run_days AS (SELECT CAST(unnest(generate_series({start}, {end}, INTERVAL 1 DAY)) AS DATE) AS snapshot_date)
        SELECT r.snapshot_date, a.part_id, a.supplier_id, a.available_quantity, a.trailing_demand_quantity,
               a.daily_demand_quantity, a.days_of_cover, a.available_quantity <= 0 AS is_out_of_stock
        FROM alerts a JOIN run_days r ON r.snapshot_date >= a.day AND r.snapshot_date < coalesce(a.next_day, {end} + 1)
        ORDER BY r.snapshot_date, a.days_of_cover, a.part_id, a.supplier_id""", "snapshot_date"),
}


def covered(addresses: list[str]) -> tuple[list[str], list[str]]:
    """The products that have a baseline query, and those that do not."""
    return [a for a in addresses if a in QUERIES], [a for a in addresses if a not in QUERIES]


def _days(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def run(addresses: list[str], feeds_root: Path, out: Path, first: str, last: str,
        log: Callable[[str], None] = lambda _: None) -> dict[str, int]:
    """Compute every covered product in dependency order (the order given); rows written per product."""
    con = duckdb.connect()
    days = _days(first, last)
    written: dict[str, int] = {}
    for address in addresses:
        query = QUERIES.get(address)
        if query is None:
            continue
        sql = _expand(query.sql, feeds_root, out, days, first, last)
        target = out / address.replace(".", "/")
        options = "FORMAT parquet, COMPRESSION snappy"
        target.parent.mkdir(parents=True, exist_ok=True)
        if query.partition_column:
            options += f", PARTITION_BY ({query.partition_column}), WRITE_PARTITION_COLUMNS true"
            con.execute(f"COPY ({sql}) TO '{target}' ({options})")
            if not any(target.rglob("*.parquet")):  # no rows: keep the schema for the products that read it
                target.mkdir(parents=True, exist_ok=True)
                con.execute(f"COPY (SELECT * FROM ({sql}) LIMIT 0) TO '{target}/empty.parquet' (FORMAT parquet)")
        else:
            con.execute(f"COPY ({sql}) TO '{target}.parquet' ({options})")
        written[address] = _rows(con, target, query)
        log(f"  baseline {address}: {written[address]} rows")
    con.close()
    return written


def _rows(con: duckdb.DuckDBPyConnection, target: Path, query: Query) -> int:
    pattern = f"{target}/**/*.parquet" if query.partition_column else f"{target}.parquet"
    return con.execute(f"SELECT count(*) FROM read_parquet('{pattern}')").fetchone()[0]


def _expand(sql: str, feeds_root: Path, out: Path, days: list[str], first: str, last: str) -> str:
    import re

    def feed(match: re.Match) -> str:
        files = [feeds_root / "erp" / match.group(1) / f"{day}.parquet" for day in days]
        return "read_parquet([" + ", ".join(f"'{f}'" for f in files) + "])"

    def product(match: re.Match) -> str:
        address = match.group(1)
        target = out / address.replace(".", "/")
        if QUERIES[address].partition_column:
            return f"read_parquet('{target}/**/*.parquet', hive_partitioning = false)"
        return f"read_parquet('{target}.parquet')"

    sql = re.sub(r"\{feed:(\w+)\}", feed, sql)
    sql = re.sub(r"\{product:([\w.]+)\}", product, sql)
    return sql.replace("{start}", f"DATE '{first}'").replace("{end}", f"DATE '{last}'")
