"""Quality rules of supply_chain.supplier_performance."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from mesh import rule
from mesh.types import Date


class SupplierPerformance(pa.DataFrameModel):
    supplier_id: Series[int] = pa.Field(gt=0, description="Supplier (supply_chain.suppliers)")
    supplier_name: Series[str] = pa.Field(nullable=True, description="Supplier's name; empty when not in the master")
    nation: Series[str] = pa.Field(nullable=True, description="Supplier's country; empty when not in the master")
    receipt_month: Series[Date] = pa.Field(description="First day of the month the lines were received in")
    lines_delivered: Series[int] = pa.Field(gt=0, description="Order lines of the supplier received that month")
    on_time_lines: Series[int] = pa.Field(ge=0, description="Lines received on or before their commit date")
    on_time_rate: Series[float] = pa.Field(ge=0, le=1, description="on_time_lines / lines_delivered, from 0 to 1")
    average_delay_days: Series[float] = pa.Field(ge=0, description="Mean days a line was received after its commit "
                                                                   "date, counting lines on time as 0")
    returned_lines: Series[int] = pa.Field(ge=0, description="Lines the customer returned (return flag R)")
    return_rate: Series[float] = pa.Field(ge=0, le=1, description="returned_lines / lines_delivered, from 0 "
                                                                  "to 1: the quality score, lower is better")
    kept_waiting_lines: Series[int] = pa.Field(ge=0, description="Late lines that alone kept a multi-supplier "
                                                                 "order with status F waiting (TPC-H Q21 numwait)")

    @pa.dataframe_check(name="counts_within_lines_delivered")
    def counts_within_lines_delivered(cls, df: DataFrame) -> Series[bool]:
        return (df["on_time_lines"] <= df["lines_delivered"]) & (df["returned_lines"] <= df["lines_delivered"])

    @pa.dataframe_check(name="kept_waiting_only_by_late_lines")
    def kept_waiting_only_by_late_lines(cls, df: DataFrame) -> Series[bool]:
        return df["kept_waiting_lines"] <= df["lines_delivered"] - df["on_time_lines"]

    @pa.dataframe_check(name="rates_match_counts")
    def rates_match_counts(cls, df: DataFrame) -> Series[bool]:
        on_time = (df["on_time_rate"] - df["on_time_lines"] / df["lines_delivered"]).abs() < 1e-9
        returns = (df["return_rate"] - df["returned_lines"] / df["lines_delivered"]).abs() < 1e-9
        return on_time & returns

    @pa.dataframe_check(name="delay_only_with_late_lines")
    def delay_only_with_late_lines(cls, df: DataFrame) -> Series[bool]:
        return (df["average_delay_days"] > 0) == (df["on_time_lines"] < df["lines_delivered"])

    @pa.check("supplier_name", name="supplier_in_master", ignore_na=False, **rule(severity="warn"))
    def supplier_in_master(cls, name: Series[str]) -> Series[bool]:
        return name.notna()
