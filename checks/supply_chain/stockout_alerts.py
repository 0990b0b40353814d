"""Quality rules of supply_chain.stockout_alerts."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from mesh import rule
from mesh.types import Date


class StockoutAlerts(pa.DataFrameModel):
    snapshot_date: Series[Date] = pa.Field(description="Day at whose end the cover is judged; the partition")
    part_id: Series[int] = pa.Field(gt=0, description="Part at risk (supply_chain.parts)")
    supplier_id: Series[int] = pa.Field(gt=0, description="Supplier whose stock of the part runs low "
                                                          "(supply_chain.suppliers)")
    available_quantity: Series[float] = pa.Field(description="Units on hand at the end of the day "
                                                             "(supply_chain.inventory_levels); negative: backorder")
    trailing_demand_quantity: Series[float] = pa.Field(gt=0, description="Units ordered from the supplier over the "
                                                                         "trailing demand_days days")
    daily_demand_quantity: Series[float] = pa.Field(gt=0, description="trailing_demand_quantity / demand_days: "
                                                                      "units ordered per day")
    days_of_cover: Series[float] = pa.Field(ge=0, description="Days the stock lasts at the daily demand: "
                                                              "max(available_quantity, 0) / daily_demand_quantity")
    is_out_of_stock: Series[bool] = pa.Field(description="Whether nothing is left on hand (available <= 0)")

    @pa.dataframe_check(name="cover_matches_stock_and_demand")
    def cover_matches_stock_and_demand(cls, df: DataFrame) -> Series[bool]:
        expected = df["available_quantity"].clip(lower=0) / df["daily_demand_quantity"]
        return (df["days_of_cover"] - expected).abs() < 1e-6

    @pa.dataframe_check(name="out_of_stock_means_no_cover")
    def out_of_stock_means_no_cover(cls, df: DataFrame) -> Series[bool]:
        return df["is_out_of_stock"] == (df["available_quantity"] <= 0)

    @pa.check("is_out_of_stock", name="still_in_stock", **rule(severity="warn"))
    def still_in_stock(cls, out_of_stock: Series[bool]) -> Series[bool]:
        # An alert should come before the shelf is empty: an out-of-stock pair means it came too late.
        return ~out_of_stock
