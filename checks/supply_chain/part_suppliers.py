"""Quality rules of supply_chain.part_suppliers."""

import pandera.pandas as pa
from pandera.typing import Series

from mesh import rule
from mesh.types import Date


class PartSuppliers(pa.DataFrameModel):
    part_id: Series[int] = pa.Field(gt=0, description="Part offered (supply_chain.parts)")
    supplier_id: Series[int] = pa.Field(gt=0, description="Supplier offering it (supply_chain.suppliers)")
    supply_cost_usd: Series[float] = pa.Field(description="What one unit costs from this supplier, in US dollars")
    initial_quantity: Series[int] = pa.Field(description="Units the supplier held of the part when the offer "
                                                         "was registered; where inventory_levels starts")
    registered_date: Series[Date] = pa.Field(description="Day the offer entered the ERP; the partition")

    @pa.check("supply_cost_usd", name="supply_cost_positive")
    def supply_cost_positive(cls, cost: Series[float]) -> Series[bool]:
        return cost > 0

    @pa.check("initial_quantity", name="initial_quantity_not_negative")
    def initial_quantity_not_negative(cls, quantity: Series[int]) -> Series[bool]:
        return quantity >= 0

    @pa.check("initial_quantity", name="initial_quantity_plausible", **rule(severity="warn"))
    def initial_quantity_plausible(cls, quantity: Series[int]) -> Series[bool]:
        # Suppliers stock at most 9,999 units of a part; more is almost surely an entry error.
        return quantity <= 9999

    @pa.check("supply_cost_usd", name="supply_cost_plausible", **rule(severity="warn"))
    def supply_cost_plausible(cls, cost: Series[float]) -> Series[bool]:
        return cost <= 1000
