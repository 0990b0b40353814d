"""Quality rules of product_usage.daily_active_users."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from mesh import rule
from mesh.types import Date


class DailyActiveUsers(pa.DataFrameModel):
    activity_date: Series[Date] = pa.Field(description="UTC day; the partition")
    active_users: Series[int] = pa.Field(ge=0, description="Users with at least one feature use that day (DAU)")
    active_customers: Series[int] = pa.Field(ge=0, description="Customer accounts with at least one active user")
    weekly_active_users: Series[int] = pa.Field(ge=0, description="Users active on any of the 7 days ending that "
                                                                  "day (WAU)")
    monthly_active_users: Series[int] = pa.Field(ge=0, description="Users active on any of the 28 days ending "
                                                                   "that day (MAU)")
    feature_uses: Series[int] = pa.Field(ge=0, description="Feature-use events that day")
    stickiness_ratio: Series[float] = pa.Field(nullable=True, description="DAU / MAU: how much of the monthly "
                                                                          "audience comes back daily; empty "
                                                                          "without any MAU")

    @pa.dataframe_check(name="active_windows_nest",
                        description="daily <= weekly <= monthly active users")
    def active_windows_nest(cls, df: DataFrame) -> Series[bool]:
        # A user active today is active this week, and this week's users are active this month.
        return (df["active_users"] <= df["weekly_active_users"]) & (
            df["weekly_active_users"] <= df["monthly_active_users"])

    @pa.dataframe_check(name="customers_not_above_users",
                        description="every active customer has at least one active user")
    def customers_not_above_users(cls, df: DataFrame) -> Series[bool]:
        return df["active_customers"] <= df["active_users"]

    @pa.dataframe_check(name="uses_cover_active_users",
                        description="every active user used at least one feature")
    def uses_cover_active_users(cls, df: DataFrame) -> Series[bool]:
        return df["feature_uses"] >= df["active_users"]

    @pa.check("stickiness_ratio", name="stickiness_is_a_fraction",
              description="DAU / MAU lies between 0 and 1")
    def stickiness_is_a_fraction(cls, ratio: Series[float]) -> Series[bool]:
        return ratio.between(0, 1)

    @pa.dataframe_check(name="uses_per_user_plausible",
                        description="at most 100 feature uses per active user and day", **rule(severity="warn"))
    def uses_per_user_plausible(cls, df: DataFrame) -> Series[bool]:
        # People open a handful of features a day; hundreds per user is a script or replayed events.
        return df["feature_uses"] <= 100 * df["active_users"]
