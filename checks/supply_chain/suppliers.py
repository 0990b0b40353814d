"""Quality rules of supply_chain.suppliers."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from mesh import rule
from mesh.types import Date

REGIONS = ["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"]


class Suppliers(pa.DataFrameModel):
    supplier_id: Series[int] = pa.Field(gt=0, description="ERP supplier key; the supplier's identity across domains")
    name: Series[str] = pa.Field(description="Company name of the supplier")
    address: Series[str] = pa.Field(description="Business address of the supplier")
    phone: Series[str] = pa.Field(description="Business phone number, starting with the country code")
    nation_id: Series[int] = pa.Field(ge=0, le=24, description="TPC-H nation key of the supplier's country")
    nation: Series[str] = pa.Field(description="Country of the supplier")
    region: Series[str] = pa.Field(description="World region of the supplier's country")
    account_balance_usd: Series[float] = pa.Field(description="Account balance in US dollars; negative when owing")
    registered_date: Series[Date] = pa.Field(description="Day the supplier entered the ERP; the partition")

    @pa.check("region", name="known_region")
    def known_region(cls, region: Series[str]) -> Series[bool]:
        return region.isin(REGIONS)

    @pa.dataframe_check(name="phone_matches_nation")
    def phone_matches_nation(cls, df: DataFrame) -> Series[bool]:
        # TPC-H phone numbers start with the country code, which is the nation key plus 10.
        return df["phone"].str.slice(0, 2) == (df["nation_id"] + 10).astype(str)

    @pa.check("account_balance_usd", name="balance_within_credit_limit", **rule(severity="warn"))
    def balance_within_credit_limit(cls, balance: Series[float]) -> Series[bool]:
        return balance.between(-999.99, 9999.99)
