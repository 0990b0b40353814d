"""Quality rules of marketing.customer_segments."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from mesh import rule
from mesh.types import Date

TIERS = ["high", "medium", "low"]


class CustomerSegments(pa.DataFrameModel):
    market_segment: Series[str] = pa.Field(description="Market segment (customer.customers); UNKNOWN when not "
                                                       "in the master")
    value_tier: Series[str] = pa.Field(isin=TIERS, description="high, medium or low order revenue over 365 days, "
                                                               "by rank among paying customers")
    risk_tier: Series[str] = pa.Field(isin=TIERS, description="high, medium or low churn probability, by the "
                                                              "contract's thresholds")
    customer_count: Series[int] = pa.Field(gt=0, description="Paying customers in the group")
    avg_churn_probability: Series[float] = pa.Field(description="Mean churn probability of the group")
    revenue_usd_365d: Series[float] = pa.Field(ge=0, description="Their order revenue over the last 365 days, in "
                                                                 "US dollars")
    revenue_at_risk_usd: Series[float] = pa.Field(ge=0, description="Sum of revenue x churn probability: the "
                                                                    "revenue expected to leave with churners")
    scored_date: Series[Date] = pa.Field(description="Day the churn scores are as of")
    churn_horizon_days: Series[int] = pa.Field(gt=0, description="Days ahead the churn probabilities cover")

    @pa.check("avg_churn_probability", name="probability_is_a_fraction",
              description="a probability lies between 0 and 1")
    def probability_is_a_fraction(cls, probability: Series[float]) -> Series[bool]:
        return probability.between(0, 1)

    @pa.dataframe_check(name="at_risk_not_above_revenue",
                        description="revenue at risk cannot exceed the revenue")
    def at_risk_not_above_revenue(cls, df: DataFrame) -> Series[bool]:
        return df["revenue_at_risk_usd"] <= df["revenue_usd_365d"] + 1e-6

    @pa.check("market_segment", name="customer_in_master",
              description="the customers are in the customer master", **rule(severity="warn"))
    def customer_in_master(cls, segment: Series[str]) -> Series[bool]:
        return segment != "UNKNOWN"
