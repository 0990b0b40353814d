"""Quality rules of customer.customers."""

import pandera.pandas as pa
from pandera.typing import Series

from mesh import rule
from mesh.types import Date

SEGMENTS = ["AUTOMOBILE", "BUILDING", "FURNITURE", "HOUSEHOLD", "MACHINERY"]
REGIONS = ["AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST"]


class Customers(pa.DataFrameModel):
    customer_id: Series[int] = pa.Field(gt=0, description="ERP customer key; the customer's identity across domains")
    name: Series[str] = pa.Field(description="Customer name (personal data)")
    address: Series[str] = pa.Field(description="Postal address (personal data)")
    phone: Series[str] = pa.Field(description="Phone number with country code (personal data)")
    nation_id: Series[int] = pa.Field(ge=0, le=24, description="TPC-H nation key of the customer's country")
    nation: Series[str] = pa.Field(description="Country of the customer")
    region: Series[str] = pa.Field(description="World region of the customer's country")
    market_segment: Series[str] = pa.Field(description="Market segment the sales team assigned")
    account_balance_usd: Series[float] = pa.Field(description="Account balance in US dollars; negative when owing")
    registered_date: Series[Date] = pa.Field(description="Day the customer registered; the partition")

    @pa.check("market_segment", name="known_market_segment")
    def known_market_segment(cls, segment: Series[str]) -> Series[bool]:
        return segment.isin(SEGMENTS)

    @pa.check("region", name="known_region")
    def known_region(cls, region: Series[str]) -> Series[bool]:
        return region.isin(REGIONS)

    @pa.dataframe_check(name="phone_matches_nation")
    def phone_matches_nation(cls, df) -> Series[bool]:
        # TPC-H phone numbers start with the country code, which is the nation key plus 10.
        return df["phone"].str.slice(0, 2) == (df["nation_id"] + 10).astype(str)

    @pa.check("account_balance_usd", name="balance_within_credit_limit", **rule(severity="warn"))
    def balance_within_credit_limit(cls, balance: Series[float]) -> Series[bool]:
        return balance.between(-999.99, 9999.99)
