"""Quality rules of product_usage.usage_anomalies; the WARN rule metric_within_band is the alert."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from mesh import rule
from mesh.types import Date


class UsageAnomalies(pa.DataFrameModel):
    metric_date: Series[Date] = pa.Field(description="UTC day the metric was measured; the partition")
    metric: Series[str] = pa.Field(description="active_users, active_customers, feature_uses, or "
                                               "feature_uses.<feature>")
    value: Series[float] = pa.Field(ge=0, description="The metric's value that day")
    trailing_mean: Series[float] = pa.Field(nullable=True, description="Mean over the trailing window; empty "
                                                                       "with too little history")
    trailing_std: Series[float] = pa.Field(nullable=True, description="Sample standard deviation over the "
                                                                      "trailing window")
    lower_bound: Series[float] = pa.Field(nullable=True, description="Lowest value that is not an anomaly")
    upper_bound: Series[float] = pa.Field(nullable=True, description="Highest value that is not an anomaly")
    history_days: Series[int] = pa.Field(ge=0, description="Days of history in the trailing window")
    deviation_sigmas: Series[float] = pa.Field(nullable=True, description="(value - mean) / band deviation: how "
                                                                          "far out the value is")
    is_anomaly: Series[bool] = pa.Field(description="True when the value is outside the band")
    direction: Series[str] = pa.Field(nullable=True, description="drop or spike, for anomalies")

    @pa.dataframe_check(name="band_is_ordered",
                        description="the lower bound is not above the upper bound")
    def band_is_ordered(cls, df: DataFrame) -> Series[bool]:
        return df["lower_bound"].isna() | (df["lower_bound"] <= df["upper_bound"])

    @pa.dataframe_check(name="anomaly_has_band_and_direction",
                        description="an anomaly has a band and a direction, drop or spike")
    def anomaly_has_band_and_direction(cls, df: DataFrame) -> Series[bool]:
        return ~df["is_anomaly"] | (df["upper_bound"].notna() & df["direction"].isin(["drop", "spike"]))

    @pa.dataframe_check(name="metric_within_band",
                        description="the metric stays within its band around the trailing window",
                        **rule(severity="warn"))
    def metric_within_band(cls, df: DataFrame) -> Series[bool]:
        # The alert itself: a failing row is a day whose usage moved beyond its usual band.
        return ~df["is_anomaly"]
