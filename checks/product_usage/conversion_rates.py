"""Quality rules of product_usage.conversion_rates."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from mesh import rule
from mesh.types import Date


class ConversionRates(pa.DataFrameModel):
    trial_end_date: Series[Date] = pa.Field(description="Day the cohort's trials ended; the partition")
    cohort_start_date: Series[Date] = pa.Field(description="Day the cohort's trials started")
    trials_ended: Series[int] = pa.Field(ge=0, description="Trials started on cohort_start_date")
    trials_converted: Series[int] = pa.Field(ge=0, description="Of those, upgraded to a paid plan within the "
                                                               "trial")
    conversion_rate: Series[float] = pa.Field(nullable=True, description="trials_converted / trials_ended; "
                                                                         "empty without trials")
    trials_ended_rolling: Series[int] = pa.Field(ge=0, description="Trials that ended over the rolling window "
                                                                   "up to trial_end_date")
    trials_converted_rolling: Series[int] = pa.Field(ge=0, description="Of those, converted within the trial")
    conversion_rate_rolling: Series[float] = pa.Field(nullable=True, description="Rolling conversion rate; "
                                                                                 "empty without trials")
    median_days_to_convert: Series[float] = pa.Field(nullable=True, description="Median days from trial start to "
                                                                                "upgrade over the rolling window")

    @pa.dataframe_check(name="converted_not_above_ended",
                        description="conversions cannot exceed the trials that ended")
    def converted_not_above_ended(cls, df: DataFrame) -> Series[bool]:
        return (df["trials_converted"] <= df["trials_ended"]) & (
            df["trials_converted_rolling"] <= df["trials_ended_rolling"])

    @pa.dataframe_check(name="cohort_within_rolling_window",
                        description="the day's cohort is part of its rolling window")
    def cohort_within_rolling_window(cls, df: DataFrame) -> Series[bool]:
        return df["trials_ended"] <= df["trials_ended_rolling"]

    @pa.check("conversion_rate", name="conversion_rate_is_a_fraction",
              description="the conversion rate lies between 0 and 1")
    def conversion_rate_is_a_fraction(cls, rate: Series[float]) -> Series[bool]:
        return rate.between(0, 1)

    @pa.check("conversion_rate_rolling", name="rolling_rate_is_a_fraction",
              description="the rolling conversion rate lies between 0 and 1")
    def rolling_rate_is_a_fraction(cls, rate: Series[float]) -> Series[bool]:
        return rate.between(0, 1)

    @pa.dataframe_check(name="rolling_rate_plausible",
                        description="over 20 trials or more, rolling conversion lies within 5%..90%",
                        **rule(severity="warn"))
    def rolling_rate_plausible(cls, df: DataFrame) -> Series[bool]:
        # Over 20 trials or more, SaaS trials convert at 5% to 90%; outside that, suspect the
        # tracking of trial starts or upgrades rather than the customers.
        judged = df["trials_ended_rolling"] >= 20
        return ~judged | df["conversion_rate_rolling"].between(0.05, 0.9)
