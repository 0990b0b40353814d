"""Quality rules of product_usage.feature_usage."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from checks.product_usage.events import FEATURES
from mesh import rule
from mesh.types import Date


class FeatureUsage(pa.DataFrameModel):
    activity_date: Series[Date] = pa.Field(description="UTC day; the partition")
    feature: Series[str] = pa.Field(description="Feature of the product")
    use_count: Series[int] = pa.Field(gt=0, description="Feature-use events that day")
    user_count: Series[int] = pa.Field(gt=0, description="Distinct users who used the feature that day")
    customer_count: Series[int] = pa.Field(gt=0, description="Distinct customer accounts whose users used it")
    total_duration_seconds: Series[float] = pa.Field(ge=0, description="Seconds spent in the feature, summed")
    median_duration_seconds: Series[float] = pa.Field(ge=0, description="Median seconds per use")
    share_of_active_users: Series[float] = pa.Field(description="user_count over the day's active users (any "
                                                                "feature): the feature's reach")

    @pa.dataframe_check(name="users_not_above_uses",
                        description="uses >= users >= customers")
    def users_not_above_uses(cls, df: DataFrame) -> Series[bool]:
        return (df["user_count"] <= df["use_count"]) & (df["customer_count"] <= df["user_count"])

    @pa.check("share_of_active_users", name="reach_is_a_fraction",
              description="the share of active users lies in (0, 1]")
    def reach_is_a_fraction(cls, share: Series[float]) -> Series[bool]:
        return (share > 0) & (share <= 1)

    @pa.check("feature", name="feature_in_catalog",
              description="the feature is in the product catalog", **rule(severity="warn"))
    def feature_in_catalog(cls, feature: Series[str]) -> Series[bool]:
        return feature.isin(FEATURES)

    @pa.check("median_duration_seconds", name="median_session_plausible",
              description="the median use lasts at most an hour", **rule(severity="warn"))
    def median_session_plausible(cls, seconds: Series[float]) -> Series[bool]:
        # Typical uses last a minute or two; a median above an hour points at sessions never closed.
        return seconds <= 3600
