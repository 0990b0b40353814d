"""Quality rules of product_usage.usage_by_segment."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from mesh import rule
from mesh.types import Date


class UsageBySegment(pa.DataFrameModel):
    activity_date: Series[Date] = pa.Field(description="UTC day; the partition")
    market_segment: Series[str] = pa.Field(description="Market segment of the customers (customer.customers); "
                                                       "UNKNOWN for customers not in the master")
    registered_customers: Series[int] = pa.Field(ge=0, description="Customers of the segment registered by that "
                                                                   "day")
    active_customers: Series[int] = pa.Field(ge=0, description="Customer accounts of the segment with at least "
                                                               "one feature use that day")
    active_users: Series[int] = pa.Field(ge=0, description="Users of those accounts active that day")
    feature_uses: Series[int] = pa.Field(ge=0, description="Feature-use events of the segment that day")
    adoption_rate: Series[float] = pa.Field(nullable=True, description="active_customers / registered_customers; "
                                                                       "empty for UNKNOWN")
    feature_uses_per_active_user: Series[float] = pa.Field(nullable=True, description="Usage intensity: feature "
                                                                                      "uses per active user")

    @pa.dataframe_check(name="active_customers_registered",
                        description="a segment cannot have more active than registered customers")
    def active_customers_registered(cls, df: DataFrame) -> Series[bool]:
        # A customer signs up to the product only after registering with us.
        return (df["market_segment"] == "UNKNOWN") | (df["active_customers"] <= df["registered_customers"])

    @pa.dataframe_check(name="users_cover_customers",
                        description="customers <= users <= feature uses")
    def users_cover_customers(cls, df: DataFrame) -> Series[bool]:
        return (df["active_customers"] <= df["active_users"]) & (df["active_users"] <= df["feature_uses"])

    @pa.check("adoption_rate", name="adoption_is_a_fraction",
              description="adoption lies between 0 and 1")
    def adoption_is_a_fraction(cls, rate: Series[float]) -> Series[bool]:
        return rate.between(0, 1)

    @pa.check("market_segment", name="customer_in_master",
              description="the customers are in the customer master (else segment UNKNOWN)", **rule(severity="warn"))
    def customer_in_master(cls, segment: Series[str]) -> Series[bool]:
        # Product events of customers the master does not know yet: their usage counts, unsegmented.
        return segment != "UNKNOWN"
