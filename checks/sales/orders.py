"""Quality rules of sales.orders."""

import pandera.pandas as pa
from pandera.typing import Series

from mesh import rule
from mesh.types import Date

PRIORITIES = ["1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"]


class Orders(pa.DataFrameModel):
    order_id: Series[int] = pa.Field(gt=0, description="ERP order key")
    customer_id: Series[int] = pa.Field(gt=0, description="Customer who placed the order (customer.customers)")
    status: Series[str] = pa.Field(description="F: all lines shipped, O: none shipped, P: partly shipped")
    total_price_usd: Series[float] = pa.Field(description="Order total in US dollars, after discount, with tax")
    order_date: Series[Date] = pa.Field(description="Day the order was placed; the partition")
    priority: Series[str] = pa.Field(description="Order priority, 1-URGENT to 5-LOW")
    clerk: Series[str] = pa.Field(description="Clerk who took the order")
    ship_priority: Series[int] = pa.Field(ge=0, description="Shipping priority")

    @pa.check("total_price_usd", name="total_price_positive")
    def total_price_positive(cls, price: Series[float]) -> Series[bool]:
        return price > 0

    @pa.check("status", name="known_status")
    def known_status(cls, status: Series[str]) -> Series[bool]:
        return status.isin(["F", "O", "P"])

    @pa.check("priority", name="known_priority")
    def known_priority(cls, priority: Series[str]) -> Series[bool]:
        return priority.isin(PRIORITIES)

    @pa.check("total_price_usd", name="total_price_plausible", **rule(severity="warn"))
    def total_price_plausible(cls, price: Series[float]) -> Series[bool]:
        # The largest TPC-H order is about 600,000 USD; beyond a million is almost surely an entry error.
        return price < 1_000_000
