"""sales.orders: the ERP's orders, renamed to the mesh's conventions."""

import pandas as pd


def orders(orders: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": orders["o_orderkey"],
            "customer_id": orders["o_custkey"],
            "status": orders["o_orderstatus"],
            "total_price_usd": orders["o_totalprice"],
            "order_date": orders["o_orderdate"],
            "priority": orders["o_orderpriority"],
            "clerk": orders["o_clerk"],
            "ship_priority": orders["o_shippriority"],
        }
    )
