"""supply_chain.delivery_timelines: ship, commit and receipt dates per order, and how late it was.

A timeline is a fact once the order is complete: partition D holds the orders whose last line was
received on D. The contract reads sales.order_lines over the 151 days before the run's window, the
longest an order takes, so every line of an order completed in the window is read; orders still on
their way are left out until their day.
"""

import duckdb

from mesh.partitions import RunWindow


def delivery_timelines(order_lines: duckdb.DuckDBPyRelation, window: RunWindow) -> duckdb.DuckDBPyRelation:
    first, last = f"DATE '{window.start_date}'", f"DATE '{window.end_date}'"
    return order_lines.query("order_lines", f"""
        SELECT order_id, order_date,
               count(*) AS line_count,
               count(DISTINCT supplier_id) AS supplier_count,
               min(ship_date) AS first_ship_date, max(ship_date) AS last_ship_date,
               min(commit_date) AS first_commit_date, max(commit_date) AS last_commit_date,
               min(receipt_date) AS first_receipt_date, max(receipt_date) AS last_receipt_date,
               datediff('day', order_date, max(receipt_date)) AS lead_time_days,
               count(*) FILTER (WHERE receipt_date > commit_date) AS late_line_count,
               greatest(max(datediff('day', commit_date, receipt_date)), 0) AS delay_days,
               bool_or(receipt_date > commit_date) AS is_late
        FROM order_lines
        GROUP BY order_id, order_date
        HAVING max(receipt_date) BETWEEN {first} AND {last}
        ORDER BY last_receipt_date, order_id
    """)
