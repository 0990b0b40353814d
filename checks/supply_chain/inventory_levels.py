"""Quality rules of supply_chain.inventory_levels."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from mesh import rule
from mesh.types import Date


class InventoryLevels(pa.DataFrameModel):
    snapshot_date: Series[Date] = pa.Field(description="Day the stock moved; the partition. The level as of a "
                                                       "day is the newest row on or before it")
    part_id: Series[int] = pa.Field(gt=0, description="Part held (supply_chain.parts)")
    supplier_id: Series[int] = pa.Field(gt=0, description="Supplier holding it (supply_chain.suppliers)")
    registered_quantity: Series[float] = pa.Field(description="Units the offer was registered with on this day "
                                                              "(part_suppliers.initial_quantity), else 0")
    shipped_quantity: Series[float] = pa.Field(description="Units of order lines shipped on this day")
    replenished_quantity: Series[float] = pa.Field(description="Units received from the supplier on this day")
    available_quantity: Series[float] = pa.Field(description="Units on hand at the end of the day; negative "
                                                             "when more was shipped than held (a backorder)")

    @pa.dataframe_check(name="movements_not_negative")
    def movements_not_negative(cls, df: DataFrame) -> Series[bool]:
        return (df[["registered_quantity", "shipped_quantity", "replenished_quantity"]] >= 0).all(axis="columns")

    @pa.dataframe_check(name="row_only_when_stock_moved")
    def row_only_when_stock_moved(cls, df: DataFrame) -> Series[bool]:
        # The changelog holds a pair on a day only if something happened to its stock that day.
        return (df[["registered_quantity", "shipped_quantity", "replenished_quantity"]] > 0).any(axis="columns")

    @pa.check("available_quantity", name="available_not_negative", **rule(severity="warn"))
    def available_not_negative(cls, available: Series[float]) -> Series[bool]:
        return available >= 0
