"""marketing.customer_segments: churn risk by customer value, with the revenue at risk.

Value tiers rank the scored customers by order revenue over 365 days: the top
``high_value_share`` are high, the next ``medium_value_share`` medium, the rest (and anyone
without revenue) low. Risk tiers cut the churn probability at the contract's thresholds.
"""

import numpy as np
import pandas as pd

UNKNOWN_SEGMENT = "UNKNOWN"


def customer_segments(churn_scores: pd.DataFrame, customers: pd.DataFrame, params: dict) -> pd.DataFrame:
    scores = churn_scores.merge(customers[["customer_id", "market_segment"]], on="customer_id", how="left")
    scores["market_segment"] = scores["market_segment"].fillna(UNKNOWN_SEGMENT)
    scores["value_tier"] = value_tiers(scores["order_value_usd_365d"], float(params["high_value_share"]),
                                       float(params["medium_value_share"]))
    probability = scores["churn_probability"]
    high, medium = float(params["high_risk_probability"]), float(params["medium_risk_probability"])
    scores["risk_tier"] = np.select([probability >= high, probability >= medium], ["high", "medium"], "low")
    scores["at_risk_usd"] = probability * scores["order_value_usd_365d"]
    out = scores.groupby(["market_segment", "value_tier", "risk_tier"]).agg(
        customer_count=("customer_id", "count"), avg_churn_probability=("churn_probability", "mean"),
        revenue_usd_365d=("order_value_usd_365d", "sum"), revenue_at_risk_usd=("at_risk_usd", "sum"),
        scored_date=("scored_date", "max"), churn_horizon_days=("churn_horizon_days", "max"),
    ).reset_index()
    return out.sort_values("revenue_at_risk_usd", ascending=False).reset_index(drop=True)


def value_tiers(revenue: pd.Series, high_share: float, medium_share: float) -> pd.Series:
    """high, medium or low by rank of revenue (ties share the better tier); no revenue is low."""
    top_share = revenue.rank(ascending=False, method="min", pct=True)
    tier = np.select([top_share <= high_share, top_share <= high_share + medium_share], ["high", "medium"], "low")
    return pd.Series(np.where(revenue > 0, tier, "low"), index=revenue.index)
