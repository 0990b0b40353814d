"""Quality rules of supply_chain.delivery_timelines."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from mesh import rule
from mesh.types import Date


class DeliveryTimelines(pa.DataFrameModel):
    order_id: Series[int] = pa.Field(gt=0, description="Order (sales.orders)")
    order_date: Series[Date] = pa.Field(description="Day the order was placed")
    line_count: Series[int] = pa.Field(ge=1, description="Lines in the order")
    supplier_count: Series[int] = pa.Field(ge=1, description="Distinct suppliers delivering the order's lines")
    first_ship_date: Series[Date] = pa.Field(description="Day the first line shipped")
    last_ship_date: Series[Date] = pa.Field(description="Day the last line shipped")
    first_commit_date: Series[Date] = pa.Field(description="Earliest delivery date committed for a line "
                                                           "(a promise: planned)")
    last_commit_date: Series[Date] = pa.Field(description="Latest delivery date committed for a line "
                                                          "(a promise: planned)")
    first_receipt_date: Series[Date] = pa.Field(description="Day the first line was received")
    last_receipt_date: Series[Date] = pa.Field(description="Day the last line was received: the order complete; the "
                                                          "partition")
    lead_time_days: Series[int] = pa.Field(description="Days from the order date to the last receipt")
    late_line_count: Series[int] = pa.Field(ge=0, description="Lines received after their commit date")
    delay_days: Series[int] = pa.Field(ge=0, description="Most days any line was received after its commit "
                                                         "date; 0 when every line was on time")
    is_late: Series[bool] = pa.Field(description="Whether any line was received after its commit date")

    @pa.dataframe_check(name="first_not_after_last")
    def first_not_after_last(cls, df: DataFrame) -> Series[bool]:
        return ((df["first_ship_date"] <= df["last_ship_date"])
                & (df["first_commit_date"] <= df["last_commit_date"])
                & (df["first_receipt_date"] <= df["last_receipt_date"]))

    @pa.dataframe_check(name="ship_not_before_order")
    def ship_not_before_order(cls, df: DataFrame) -> Series[bool]:
        return df["first_ship_date"] >= df["order_date"]

    @pa.dataframe_check(name="receipt_not_before_ship")
    def receipt_not_before_ship(cls, df: DataFrame) -> Series[bool]:
        return (df["first_receipt_date"] >= df["first_ship_date"]) & (df["last_receipt_date"] >= df["last_ship_date"])

    @pa.dataframe_check(name="late_lines_within_lines")
    def late_lines_within_lines(cls, df: DataFrame) -> Series[bool]:
        return (df["late_line_count"] <= df["line_count"]) & (df["supplier_count"] <= df["line_count"])

    @pa.dataframe_check(name="late_when_delayed")
    def late_when_delayed(cls, df: DataFrame) -> Series[bool]:
        # One notion of lateness: an order is late, has late lines and a delay, or none of the three.
        return (df["is_late"] == (df["late_line_count"] > 0)) & (df["is_late"] == (df["delay_days"] > 0))

    @pa.check("lead_time_days", name="lead_time_plausible", **rule(severity="warn"))
    def lead_time_plausible(cls, days: Series[int]) -> Series[bool]:
        # Lines ship within four months of the order and arrive within a month: beyond 180 days is suspect.
        return days <= 180
