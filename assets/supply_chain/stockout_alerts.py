"""supply_chain.stockout_alerts: (part, supplier) pairs whose stock covers too few days of demand.

Both the trailing demand and the stock of a pair are step functions of the day: demand changes
only when an order adds its quantity (on its order date) or drops out of the trailing window
(``demand_days`` later), stock only on the days inventory_levels has a row. The query finds those
change days, takes the demand and the stock in force on each (as-of joins), keeps the intervals
where the cover is under ``cover_days``, and expands only those to the run's days. A ranged run
over years therefore costs the number of changes, not pairs times days. Stock from before the
window enters as one opening level per pair (its newest row), so the as-of joins of a daily run
cover the window's changes, not the whole history's.
"""

import duckdb

from assets.supply_chain import query
from mesh.partitions import RunWindow


def stockout_alerts(inventory_levels: duckdb.DuckDBPyRelation, order_lines: duckdb.DuckDBPyRelation,
                    window: RunWindow, params: dict) -> duckdb.DuckDBPyRelation:
    cover_days, demand_days = float(params["cover_days"]), int(params["demand_days"])
    first, last = f"DATE '{window.start_date}'", f"DATE '{window.end_date}'"
    return query(f"""
        WITH ordered AS (
            SELECT part_id, supplier_id, order_date AS day, sum(quantity) AS quantity
            FROM input_order_lines WHERE order_date <= {last} GROUP BY ALL
        ),
        demand_changes AS (  -- an order enters the trailing window on its date and leaves demand_days later
            SELECT part_id, supplier_id, day, quantity AS change FROM ordered
            UNION ALL
            SELECT part_id, supplier_id, day + {demand_days}, -quantity FROM ordered
        ),
        demand AS (
            SELECT part_id, supplier_id, day,
                   sum(sum(change)) OVER (PARTITION BY part_id, supplier_id ORDER BY day) AS trailing_quantity
            FROM demand_changes WHERE day <= {last} GROUP BY part_id, supplier_id, day
        ),
        pairs AS (SELECT DISTINCT part_id, supplier_id FROM ordered),
        stock AS (  -- the level in force the day before the window (one row per pair), then the window's rows
            SELECT part_id, supplier_id, {first} - 1 AS day,
                   arg_max(available_quantity, snapshot_date) AS available_quantity
            FROM input_inventory_levels SEMI JOIN pairs USING (part_id, supplier_id)
            WHERE snapshot_date < {first} GROUP BY part_id, supplier_id
            UNION ALL
            SELECT part_id, supplier_id, snapshot_date, available_quantity
            FROM input_inventory_levels SEMI JOIN pairs USING (part_id, supplier_id)
            WHERE snapshot_date BETWEEN {first} AND {last}
        ),
        changes AS (
            SELECT part_id, supplier_id, day FROM demand UNION SELECT part_id, supplier_id, day FROM stock
        ),
        states AS (  -- what holds from each change day until the next one
            SELECT c.part_id, c.supplier_id, c.day,
                   lead(c.day) OVER (PARTITION BY c.part_id, c.supplier_id ORDER BY c.day) AS next_day,
                   coalesce(s.available_quantity, 0) AS available_quantity,
                   coalesce(d.trailing_quantity, 0) AS trailing_demand_quantity
            FROM changes c
            ASOF LEFT JOIN demand d
                ON c.part_id = d.part_id AND c.supplier_id = d.supplier_id AND c.day >= d.day
            ASOF LEFT JOIN stock s
                ON c.part_id = s.part_id AND c.supplier_id = s.supplier_id AND c.day >= s.day
        ),
        judged AS (  -- the states with demand that last into the run's window
            SELECT *, trailing_demand_quantity / {demand_days} AS daily_demand_quantity,
                   greatest(available_quantity, 0) / (trailing_demand_quantity / {demand_days}) AS days_of_cover
            FROM states WHERE trailing_demand_quantity > 0 AND coalesce(next_day, {last} + 1) > {first}
        ),
        alerts AS (SELECT * FROM judged WHERE days_of_cover < {cover_days}),
        run_days AS (
            SELECT CAST(unnest(generate_series({first}, {last}, INTERVAL 1 DAY)) AS DATE) AS snapshot_date
        )
        SELECT r.snapshot_date, a.part_id, a.supplier_id, a.available_quantity, a.trailing_demand_quantity,
               a.daily_demand_quantity, a.days_of_cover, a.available_quantity <= 0 AS is_out_of_stock
        FROM alerts a JOIN run_days r ON r.snapshot_date >= a.day AND r.snapshot_date < coalesce(a.next_day, {last} + 1)
        ORDER BY r.snapshot_date, a.days_of_cover, a.part_id, a.supplier_id
    """, inventory_levels=inventory_levels, order_lines=order_lines)
