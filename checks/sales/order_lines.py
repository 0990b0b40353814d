"""Quality rules of sales.order_lines."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from mesh import rule
from mesh.types import Date


class OrderLines(pa.DataFrameModel):
    order_id: Series[int] = pa.Field(gt=0, description="Order the line belongs to (sales.orders)")
    line_number: Series[int] = pa.Field(ge=1, le=7, description="Position of the line in its order")
    part_id: Series[int] = pa.Field(gt=0, description="Part ordered (supply_chain.parts)")
    supplier_id: Series[int] = pa.Field(gt=0, description="Supplier delivering the part (supply_chain.suppliers)")
    quantity: Series[float] = pa.Field(description="Units ordered")
    extended_price_usd: Series[float] = pa.Field(description="Quantity times the part's price, in US dollars")
    discount: Series[float] = pa.Field(description="Discount as a fraction of the extended price")
    tax: Series[float] = pa.Field(description="Tax as a fraction of the discounted price")
    return_flag: Series[str] = pa.Field(description="On TPC-H's reference day (see the contract): R returned, "
                                                    "A accepted, N not yet received")
    line_status: Series[str] = pa.Field(description="On TPC-H's reference day (see the contract): F shipped, "
                                                    "O open")
    ship_date: Series[Date] = pa.Field(description="Day the line is to ship, planned when the order is placed")
    commit_date: Series[Date] = pa.Field(description="Day the supplier committed to deliver")
    receipt_date: Series[Date] = pa.Field(description="Day the customer is to receive the line, planned when the "
                                                      "order is placed")
    ship_instruction: Series[str] = pa.Field(description="Delivery instruction")
    ship_mode: Series[str] = pa.Field(description="Transport mode")
    order_date: Series[Date] = pa.Field(description="Day the order was placed; the partition")

    @pa.check("quantity", name="quantity_positive")
    def quantity_positive(cls, quantity: Series[float]) -> Series[bool]:
        return quantity > 0

    @pa.check("extended_price_usd", name="price_positive")
    def price_positive(cls, price: Series[float]) -> Series[bool]:
        return price > 0

    @pa.check("discount", name="discount_is_a_fraction")
    def discount_is_a_fraction(cls, discount: Series[float]) -> Series[bool]:
        return discount.between(0, 1)

    @pa.check("tax", name="tax_is_a_fraction")
    def tax_is_a_fraction(cls, tax: Series[float]) -> Series[bool]:
        return tax.between(0, 1)

    @pa.check("return_flag", name="known_return_flag")
    def known_return_flag(cls, flag: Series[str]) -> Series[bool]:
        return flag.isin(["R", "A", "N"])

    @pa.dataframe_check(name="ship_not_before_order")
    def ship_not_before_order(cls, df: DataFrame) -> Series[bool]:
        return df["ship_date"] >= df["order_date"]

    @pa.dataframe_check(name="receipt_not_before_ship")
    def receipt_not_before_ship(cls, df: DataFrame) -> Series[bool]:
        return df["receipt_date"] >= df["ship_date"]

    @pa.check("discount", name="discount_within_policy", **rule(severity="warn"))
    def discount_within_policy(cls, discount: Series[float]) -> Series[bool]:
        # Sales policy caps discounts at 10%; larger ones need a manager's approval on record.
        return discount <= 0.10

    @pa.check("quantity", name="quantity_plausible", **rule(severity="warn"))
    def quantity_plausible(cls, quantity: Series[float]) -> Series[bool]:
        return quantity <= 50
