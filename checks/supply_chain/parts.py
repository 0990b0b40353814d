"""Quality rules of supply_chain.parts."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from mesh import rule
from mesh.types import Date


class Parts(pa.DataFrameModel):
    part_id: Series[int] = pa.Field(gt=0, description="ERP part key; the part's identity across domains")
    name: Series[str] = pa.Field(description="Descriptive name of the part")
    manufacturer: Series[str] = pa.Field(description="Manufacturer, 'Manufacturer#M' with M from 1 to 5")
    brand: Series[str] = pa.Field(description="Brand, 'Brand#MN': manufacturer M, brand N of that manufacturer")
    part_type: Series[str] = pa.Field(description="Type: finish, treatment and material (e.g. PROMO BRUSHED TIN)")
    size: Series[int] = pa.Field(description="Size class of the part, 1 to 50")
    container: Series[str] = pa.Field(description="Container the part ships in (e.g. JUMBO PKG)")
    retail_price_usd: Series[float] = pa.Field(description="List price of one unit in US dollars")
    registered_date: Series[Date] = pa.Field(description="Day the part entered the ERP; the partition")

    @pa.check("size", name="size_in_catalogue_range")
    def size_in_catalogue_range(cls, size: Series[int]) -> Series[bool]:
        return size.between(1, 50)

    @pa.check("retail_price_usd", name="retail_price_positive")
    def retail_price_positive(cls, price: Series[float]) -> Series[bool]:
        return price > 0

    @pa.dataframe_check(name="brand_of_manufacturer")
    def brand_of_manufacturer(cls, df: DataFrame) -> Series[bool]:
        # Brand#MN belongs to Manufacturer#M.
        return df["brand"].str.slice(6, 7) == df["manufacturer"].str.slice(13)

    @pa.check("retail_price_usd", name="retail_price_plausible", **rule(severity="warn"))
    def retail_price_plausible(cls, price: Series[float]) -> Series[bool]:
        # The catalogue prices parts between 900 and 2,100 USD; outside is almost surely an entry error.
        return price.between(900, 2100)
