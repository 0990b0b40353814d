"""Quality rules of sales.customer_revenue."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from mesh import rule
from mesh.types import Date


class CustomerRevenue(pa.DataFrameModel):
    customer_id: Series[int] = pa.Field(gt=0, description="Customer (customer.customers)")
    nation: Series[str] = pa.Field(nullable=True, description="Country; empty when the customer is not in the master")
    region: Series[str] = pa.Field(nullable=True, description="World region; empty when not in the master")
    market_segment: Series[str] = pa.Field(nullable=True, description="Market segment; empty when not in the master")
    order_count: Series[int] = pa.Field(ge=0, description="Orders placed")
    revenue_usd: Series[float] = pa.Field(ge=0, description="Sum of order totals in US dollars")
    first_order_date: Series[Date] = pa.Field(nullable=True, description="Day of the first order; empty if none")
    last_order_date: Series[Date] = pa.Field(nullable=True, description="Day of the latest order; empty if none")

    @pa.dataframe_check(name="first_order_not_after_last")
    def first_order_not_after_last(cls, df: DataFrame) -> Series[bool]:
        return df["first_order_date"].isna() | (df["first_order_date"] <= df["last_order_date"])

    @pa.dataframe_check(name="dates_only_with_orders")
    def dates_only_with_orders(cls, df: DataFrame) -> Series[bool]:
        return (df["order_count"] > 0) == df["last_order_date"].notna()

    @pa.check("nation", name="customer_in_master", ignore_na=False, **rule(severity="warn"))
    def customer_in_master(cls, nation: Series[str]) -> Series[bool]:
        return nation.notna()
