"""supply_chain.supplier_performance: delivery and quality measures per supplier and month, with Q21's count.

A line counts once delivered, that is received on or before the newest order date published (the
mesh's business day); it belongs to the month of its receipt. Its order's facts that TPC-H query
21 needs (status, how many distinct suppliers have lines in it, how many of them were late) are
computed over all the order's lines, so a late line kept its order waiting exactly when the order
has status F, at least two suppliers, and its own supplier is the only late one.
"""

import duckdb

from assets.supply_chain import query


def supplier_performance(order_lines: duckdb.DuckDBPyRelation, orders: duckdb.DuckDBPyRelation,
                         suppliers: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    return query("""
        WITH lines AS (
            SELECT order_id, supplier_id, commit_date, receipt_date, return_flag,
                   receipt_date > commit_date AS is_late
            FROM input_order_lines
        ),
        per_order AS (
            SELECT l.order_id, any_value(o.status) AS status,
                   count(DISTINCT l.supplier_id) AS supplier_count,
                   count(DISTINCT l.supplier_id) FILTER (WHERE l.is_late) AS late_supplier_count
            FROM lines l LEFT JOIN input_orders o USING (order_id)
            GROUP BY l.order_id
        ),
        measures AS (
            SELECT supplier_id, CAST(date_trunc('month', receipt_date) AS DATE) AS receipt_month,
                   count(*) AS lines_delivered,
                   count(*) FILTER (WHERE NOT is_late) AS on_time_lines,
                   avg(greatest(datediff('day', commit_date, receipt_date), 0)) AS average_delay_days,
                   count(*) FILTER (WHERE return_flag = 'R') AS returned_lines,
                   count(*) FILTER (WHERE is_late AND status = 'F' AND supplier_count > 1
                                    AND late_supplier_count = 1) AS kept_waiting_lines
            FROM lines JOIN per_order USING (order_id)
            WHERE receipt_date <= (SELECT max(order_date) FROM input_order_lines)
            GROUP BY ALL
        )
        SELECT m.supplier_id, s.name AS supplier_name, s.nation, m.receipt_month, m.lines_delivered,
               m.on_time_lines, m.on_time_lines / m.lines_delivered AS on_time_rate, m.average_delay_days,
               m.returned_lines, m.returned_lines / m.lines_delivered AS return_rate, m.kept_waiting_lines
        FROM measures m LEFT JOIN (  -- the newest registration, should the master hold a supplier twice
            SELECT supplier_id, arg_max(name, registered_date) AS name, arg_max(nation, registered_date) AS nation
            FROM input_suppliers GROUP BY supplier_id) s USING (supplier_id)
        ORDER BY m.supplier_id, m.receipt_month
    """, order_lines=order_lines, orders=orders, suppliers=suppliers)
