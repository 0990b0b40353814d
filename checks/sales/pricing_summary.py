"""Quality rules of sales.pricing_summary."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from mesh.types import Date


class PricingSummary(pa.DataFrameModel):
    order_date: Series[Date] = pa.Field(description="Order date of the lines summarised; the partition")
    ship_date: Series[Date] = pa.Field(description="Ship date of the lines summarised")
    return_flag: Series[str] = pa.Field(description="R: returned, A: accepted, N: not yet received")
    line_status: Series[str] = pa.Field(description="F: shipped, O: open")
    sum_quantity: Series[float] = pa.Field(description="Sum of quantities (Q1 sum_qty)")
    sum_base_price_usd: Series[float] = pa.Field(description="Sum of extended prices (Q1 sum_base_price)")
    sum_discounted_price_usd: Series[float] = pa.Field(
        description="Sum of extended price x (1 - discount) (Q1 sum_disc_price)")
    sum_charge_usd: Series[float] = pa.Field(
        description="Sum of extended price x (1 - discount) x (1 + tax) (Q1 sum_charge)")
    sum_discount: Series[float] = pa.Field(description="Sum of discounts; divided by line_count gives Q1 avg_disc")
    line_count: Series[int] = pa.Field(gt=0, description="Number of lines (Q1 count_order)")

    @pa.dataframe_check(name="discounted_not_above_base")
    def discounted_not_above_base(cls, df: DataFrame) -> Series[bool]:
        return df["sum_discounted_price_usd"] <= df["sum_base_price_usd"] + 1e-6

    @pa.dataframe_check(name="ship_not_before_order")
    def ship_not_before_order(cls, df: DataFrame) -> Series[bool]:
        return df["ship_date"] >= df["order_date"]
