"""Quality rules of supply_chain.replenishments."""

import pandera.pandas as pa
from pandera.typing import Series

from mesh import rule
from mesh.types import Date


class Replenishments(pa.DataFrameModel):
    part_id: Series[int] = pa.Field(gt=0, description="Part received (supply_chain.parts)")
    supplier_id: Series[int] = pa.Field(gt=0, description="Supplier who delivered it (supply_chain.suppliers)")
    received_date: Series[Date] = pa.Field(description="Day the goods were received; the partition")
    received_quantity: Series[int] = pa.Field(description="Units received")

    @pa.check("received_quantity", name="received_quantity_positive")
    def received_quantity_positive(cls, quantity: Series[int]) -> Series[bool]:
        return quantity > 0

    @pa.check("received_quantity", name="received_quantity_plausible", **rule(severity="warn"))
    def received_quantity_plausible(cls, quantity: Series[int]) -> Series[bool]:
        # A delivery restocks about a month of shipments of one part, a few hundred units at most.
        return quantity <= 1000
