"""supply_chain.inventory_levels: a daily changelog of stock per part and supplier, computed in DuckDB.

Partition D holds the (part, supplier) pairs whose stock moved on D, with the end-of-day level.
Every movement before the run's window is summed into an opening level per pair; a running sum
(a window function) over the window's days then gives each day's end-of-day level in one pass, so
a ranged run over years costs one scan of the history, and a daily run the same scan.
"""

import duckdb

from assets.supply_chain import query
from mesh.partitions import RunWindow


def inventory_levels(part_suppliers: duckdb.DuckDBPyRelation, replenishments: duckdb.DuckDBPyRelation,
                     order_lines: duckdb.DuckDBPyRelation, window: RunWindow) -> duckdb.DuckDBPyRelation:
    first, last = f"DATE '{window.start_date}'", f"DATE '{window.end_date}'"
    return query(f"""
        WITH movements AS (  -- one row per stock movement, as (registered, shipped, replenished) quantities
            SELECT part_id, supplier_id, registered_date AS day, CAST(initial_quantity AS DOUBLE) AS registered,
                   0.0 AS shipped, 0.0 AS replenished
            FROM input_part_suppliers WHERE registered_date <= {last}
            UNION ALL
            SELECT part_id, supplier_id, ship_date, 0.0, quantity, 0.0
            FROM input_order_lines WHERE ship_date <= {last}
            UNION ALL
            SELECT part_id, supplier_id, received_date, 0.0, 0.0, CAST(received_quantity AS DOUBLE)
            FROM input_replenishments WHERE received_date <= {last}
        ),
        opening AS (
            SELECT part_id, supplier_id, sum(registered - shipped + replenished) AS quantity
            FROM movements WHERE day < {first} GROUP BY ALL
        ),
        moved AS (
            SELECT day AS snapshot_date, part_id, supplier_id, sum(registered) AS registered_quantity,
                   sum(shipped) AS shipped_quantity, sum(replenished) AS replenished_quantity
            FROM movements WHERE day >= {first} GROUP BY ALL
        )
        SELECT m.*,
               coalesce(o.quantity, 0) + sum(registered_quantity - shipped_quantity + replenished_quantity)
                   OVER (PARTITION BY m.part_id, m.supplier_id ORDER BY snapshot_date) AS available_quantity
        FROM moved m LEFT JOIN opening o USING (part_id, supplier_id)
        ORDER BY snapshot_date, part_id, supplier_id
    """, part_suppliers=part_suppliers, replenishments=replenishments, order_lines=order_lines)
