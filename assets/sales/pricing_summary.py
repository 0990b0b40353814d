"""sales.pricing_summary: TPC-H Q1's additive measures, computed in DuckDB."""

import duckdb


def pricing_summary(order_lines: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    return order_lines.query(
        "order_lines",
        """
        SELECT order_date, ship_date, return_flag, line_status,
               sum(quantity) AS sum_quantity,
               sum(extended_price_usd) AS sum_base_price_usd,
               sum(extended_price_usd * (1 - discount)) AS sum_discounted_price_usd,
               sum(extended_price_usd * (1 - discount) * (1 + tax)) AS sum_charge_usd,
               sum(discount) AS sum_discount,
               count(*) AS line_count
        FROM order_lines
        GROUP BY ALL
        ORDER BY ALL
        """,
    )
