"""The reference: product_usage functions as first written (per-day loops, Python date objects),
too slow for a run over the whole history. The products now compute the same set-based;
test_set_based_equivalence.py holds them to this code. Kept as it was; do not optimise it.
"""


import numpy as np
import pandas as pd

from mesh.partitions import RunWindow

UNKNOWN_SEGMENT = "UNKNOWN"
COUNTS = ["registered_customers", "active_customers", "active_users", "feature_uses"]


def usage_by_segment(events: pd.DataFrame, customers: pd.DataFrame, window: RunWindow) -> pd.DataFrame:
    days = pd.date_range(window.start_date, window.end_date, freq="D").date
    uses = events.loc[events["event_type"] == "feature_used", ["event_date", "customer_id", "user_email"]]
    uses = uses.merge(customers[["customer_id", "market_segment"]], on="customer_id", how="left")
    uses["market_segment"] = uses["market_segment"].fillna(UNKNOWN_SEGMENT)
    uses["activity_date"] = uses["event_date"].astype(object)
    uses = uses[uses["activity_date"].isin(set(days))]
    activity = uses.groupby(["activity_date", "market_segment"]).agg(
        active_customers=("customer_id", "nunique"), active_users=("user_email", "nunique"),
        feature_uses=("customer_id", "size"),
    ).reset_index()
    out = _registered(customers, days).merge(activity, on=["activity_date", "market_segment"], how="outer")
    out = out[(out["registered_customers"] > 0) | out["active_customers"].notna()].copy()
    out[COUNTS] = out[COUNTS].fillna(0).astype("int64")
    out["adoption_rate"] = (out["active_customers"] / out["registered_customers"]).where(
        out["registered_customers"] > 0)
    out["feature_uses_per_active_user"] = (out["feature_uses"] / out["active_users"]).where(out["active_users"] > 0)
    return out.sort_values(["activity_date", "market_segment"]).reset_index(drop=True)


def _registered(customers: pd.DataFrame, days: np.ndarray) -> pd.DataFrame:
    """Customers of each segment registered on or before each day."""
    day_numbers = np.array(days, dtype="datetime64[D]")
    frames = [pd.DataFrame(columns=["activity_date", "market_segment", "registered_customers"])]
    for segment, group in customers.groupby("market_segment"):
        registered = np.sort(np.array(group["registered_date"].tolist(), dtype="datetime64[D]"))
        frames.append(pd.DataFrame({"activity_date": days, "market_segment": segment,
                                    "registered_customers": np.searchsorted(registered, day_numbers, side="right")}))
    return pd.concat(frames, ignore_index=True)
