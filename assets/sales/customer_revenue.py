"""sales.customer_revenue: order totals per customer, with the customer's segment and geography.

Customers come from the customer domain's master. An order whose customer is not (yet) in the
published master still counts: its customer appears with unknown geography, which the
``customer_in_master`` rule reports, rather than its revenue disappearing.
"""

import pandas as pd


def customer_revenue(orders: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    per_customer = orders.groupby("customer_id").agg(
        order_count=("order_id", "count"),
        revenue_usd=("total_price_usd", "sum"),
        first_order_date=("order_date", "min"),
        last_order_date=("order_date", "max"),
    )
    master = customers[["customer_id", "nation", "region", "market_segment"]]
    result = master.merge(per_customer.reset_index(), how="outer", on="customer_id")
    result["order_count"] = result["order_count"].fillna(0).astype("int64")
    result["revenue_usd"] = result["revenue_usd"].fillna(0.0)
    return result.sort_values("customer_id").reset_index(drop=True)
