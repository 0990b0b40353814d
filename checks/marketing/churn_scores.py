"""Quality rules of marketing.churn_scores."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from assets.marketing.churn_scores import FEATURES
from mesh import rule
from mesh.types import Date


def _factor(rank: int) -> object:
    return pa.Field(nullable=True, description=f"Feature that raises this customer's churn log-odds the "
                                               f"{['most', 'second most', 'third most'][rank - 1]} against an "
                                               f"average customer; empty when no further feature raises it")


def _log_odds(rank: int) -> object:
    return pa.Field(nullable=True, description=f"Log-odds that top_factor_{rank} adds (coefficient x "
                                               f"standardized value)")


class ChurnScores(pa.DataFrameModel):
    customer_id: Series[int] = pa.Field(gt=0, description="Paying customer (customer.customers)")
    scored_date: Series[Date] = pa.Field(description="Day the features are as of: the newest day with product "
                                                     "events")
    plan: Series[str] = pa.Field(description="Paid plan the customer is on")
    churn_probability: Series[float] = pa.Field(description="Probability of cancelling within churn_horizon_days "
                                                            "after scored_date")
    churn_horizon_days: Series[int] = pa.Field(gt=0, description="Days ahead the probability covers")
    days_since_last_order: Series[int] = pa.Field(ge=0, description="Days since the customer's last order "
                                                                    "(sales.orders), capped at recency_cap_days; "
                                                                    "the cap for customers who never ordered")
    order_count_365d: Series[int] = pa.Field(ge=0, description="Orders placed in the 365 days up to scored_date")
    order_value_usd_365d: Series[float] = pa.Field(ge=0, description="Their total in US dollars (the model "
                                                                     "takes log(1 + value))")
    feature_uses_recent: Series[int] = pa.Field(ge=0, description="Feature uses in the usage-trend window up "
                                                                  "to scored_date")
    usage_trend_log_ratio: Series[float] = pa.Field(description="log((uses in the last window + 1) / (uses in "
                                                                "the window before + 1)); below 0 when fading")
    account_balance_usd: Series[float] = pa.Field(nullable=True, description="Account balance in US dollars "
                                                                             "(customer.customers); empty when "
                                                                             "not in the master")
    top_factor_1: Series[str] = _factor(1)
    top_factor_1_log_odds: Series[float] = _log_odds(1)
    top_factor_2: Series[str] = _factor(2)
    top_factor_2_log_odds: Series[float] = _log_odds(2)
    top_factor_3: Series[str] = _factor(3)
    top_factor_3_log_odds: Series[float] = _log_odds(3)

    @pa.check("churn_probability", name="probability_is_a_fraction",
              description="a probability lies between 0 and 1")
    def probability_is_a_fraction(cls, probability: Series[float]) -> Series[bool]:
        return probability.between(0, 1)

    @pa.dataframe_check(name="factors_are_model_features",
                        description="top factors name features of the model")
    def factors_are_model_features(cls, df: DataFrame) -> Series[bool]:
        factors = df[["top_factor_1", "top_factor_2", "top_factor_3"]]
        return (factors.isna() | factors.isin(FEATURES)).all(axis=1)

    @pa.dataframe_check(name="factors_ranked_by_log_odds",
                        description="top factors are ranked by the log-odds they add, all positive")
    def factors_ranked_by_log_odds(cls, df: DataFrame) -> Series[bool]:
        first, second, third = (df[f"top_factor_{r}_log_odds"].fillna(0) for r in (1, 2, 3))
        return (first >= second) & (second >= third) & (third >= 0)

    @pa.check("account_balance_usd", name="customer_in_master",
              description="the customer is in the customer master (has an account balance)", ignore_na=False,
              **rule(severity="warn"))
    def customer_in_master(cls, balance: Series[float]) -> Series[bool]:
        # Scored without a balance (the model uses the average): the master has not published them.
        return balance.notna()

    @pa.check("churn_probability", name="probability_not_saturated",
              description="a probability stays at least 0.01% away from 0 and 1", **rule(severity="warn"))
    def probability_not_saturated(cls, probability: Series[float]) -> Series[bool]:
        # A logistic model that says 0% or 100% is extrapolating far outside its training data.
        return probability.between(1e-4, 1 - 1e-4)
