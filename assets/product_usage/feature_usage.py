"""product_usage.feature_usage: uses, users, customers and time spent per day and feature."""

import pandas as pd


def feature_usage(events: pd.DataFrame) -> pd.DataFrame:
    uses = events[events["event_type"] == "feature_used"]
    per_feature = uses.groupby(["event_date", "feature"], observed=True).agg(
        use_count=("event_id", "count"),
        user_count=("user_email", "nunique"),
        customer_count=("customer_id", "nunique"),
        total_duration_seconds=("duration_seconds", "sum"),
        median_duration_seconds=("duration_seconds", "median"),
    ).reset_index()
    active_users = uses.groupby("event_date", observed=True)["user_email"].nunique().rename("active_users")
    out = per_feature.merge(active_users.reset_index(), on="event_date")
    out["share_of_active_users"] = out["user_count"] / out["active_users"]
    out = out.drop(columns="active_users").rename(columns={"event_date": "activity_date"})
    return out.sort_values(["activity_date", "feature"]).reset_index(drop=True)
