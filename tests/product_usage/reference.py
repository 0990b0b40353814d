"""The reference: product_usage functions as first written (per-day loops, Python date objects),
too slow for a run over the whole history. The products now compute the same set-based;
test_set_based_equivalence.py holds them to this code. Kept as it was; do not optimise it.
"""


from datetime import timedelta

import duckdb
import numpy as np
import pandas as pd

from mesh.contracts.partitions import RunWindow

DAILY_METRICS = ["active_users", "active_customers", "feature_uses"]
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


def conversion_rates(events: pd.DataFrame, window: RunWindow, params: dict) -> pd.DataFrame:
    trial_days, rolling_days = int(params["trial_days"]), int(params["rolling_days"])
    trials = _trials(events, trial_days)
    rows = []
    for day in pd.date_range(window.start_date, window.end_date, freq="D").date:
        cohort = trials[trials["trial_end_date"] == day]
        rolling = trials[(trials["trial_end_date"] > day - timedelta(days=rolling_days))
                         & (trials["trial_end_date"] <= day)]
        converted_rolling = rolling[rolling["converted"]]
        rows.append({
            "trial_end_date": day,
            "cohort_start_date": day - timedelta(days=trial_days),
            "trials_ended": len(cohort),
            "trials_converted": int(cohort["converted"].sum()),
            "conversion_rate": cohort["converted"].mean() if len(cohort) else None,
            "trials_ended_rolling": len(rolling),
            "trials_converted_rolling": len(converted_rolling),
            "conversion_rate_rolling": rolling["converted"].mean() if len(rolling) else None,
            "median_days_to_convert": converted_rolling["days_to_convert"].median() if len(converted_rolling)
            else None,
        })
    return pd.DataFrame(rows)


def _trials(events: pd.DataFrame, trial_days: int) -> pd.DataFrame:
    """One row per trial start: its end date, whether it converted, and after how many days."""
    def first_day(event_type: str, name: str) -> pd.DataFrame:
        chosen = events[events["event_type"] == event_type]
        return chosen.groupby("customer_id")["event_date"].min().rename(name).reset_index()

    trials = first_day("trial_started", "start_date").merge(
        first_day("subscription_upgraded", "upgrade_date"), on="customer_id", how="left")
    start = pd.to_datetime(trials["start_date"].astype("datetime64[s]"))
    upgrade = pd.to_datetime(trials["upgrade_date"].astype("datetime64[s]"))
    trials["days_to_convert"] = (upgrade - start).dt.days
    trials["converted"] = trials["days_to_convert"].between(0, trial_days - 1)
    trials["trial_end_date"] = (start + pd.Timedelta(days=trial_days)).dt.date
    return trials


def usage_anomalies(daily_active_users: pd.DataFrame, feature_usage: pd.DataFrame, window: RunWindow,
                    params: dict) -> pd.DataFrame:
    series = _metric_series(daily_active_users, feature_usage)
    days = pd.date_range(window.start_date, window.end_date, freq="D").date
    rows = [_judge(metric, values, day, params) for metric, values in series.items() for day in days
            if day in values.index]
    columns = ["metric_date", "metric", "value", "trailing_mean", "trailing_std", "lower_bound", "upper_bound",
               "history_days", "deviation_sigmas", "is_anomaly", "direction"]
    return pd.DataFrame(rows, columns=columns).sort_values(["metric_date", "metric"]).reset_index(drop=True)


def _metric_series(daily: pd.DataFrame, features: pd.DataFrame) -> dict[str, pd.Series]:
    """Each metric as a series indexed by day, over the days the daily product has rows for."""
    days = daily["activity_date"].astype(object)
    series = {name: pd.Series(daily[name].to_numpy(dtype=float), index=days) for name in DAILY_METRICS}
    uses = features.assign(activity_date=features["activity_date"].astype(object))
    for feature, rows in uses.groupby("feature"):
        counts = rows.set_index("activity_date")["use_count"].astype(float)
        series[f"feature_uses.{feature}"] = counts.reindex(days, fill_value=0.0)
    return series


def _judge(metric: str, values: pd.Series, day, params: dict) -> dict:
    window_days, sigmas = int(params["window_days"]), float(params["band_sigmas"])
    earlier = values[(values.index < day) & (values.index >= day - timedelta(days=window_days))]
    value = float(values[day])
    row = {"metric_date": day, "metric": metric, "value": value, "history_days": len(earlier),
           "trailing_mean": None, "trailing_std": None, "lower_bound": None, "upper_bound": None,
           "deviation_sigmas": None, "is_anomaly": False, "direction": None}
    if len(earlier) < int(params["min_history_days"]):
        return row
    mean, std = float(earlier.mean()), float(earlier.std(ddof=1))
    spread = max(std, float(params["min_relative_std"]) * abs(mean))
    row.update(trailing_mean=mean, trailing_std=std, lower_bound=mean - sigmas * spread,
               upper_bound=mean + sigmas * spread)
    if spread > 0:
        row["deviation_sigmas"] = (value - mean) / spread
    outside = not row["lower_bound"] <= value <= row["upper_bound"]
    row.update(is_anomaly=outside, direction=("drop" if value < mean else "spike") if outside else None)
    return row


def daily_active_users(events: duckdb.DuckDBPyRelation, window: RunWindow) -> duckdb.DuckDBPyRelation:
    return events.query(
        "events",
        f"""
        WITH days AS (
            SELECT CAST(day AS DATE) AS activity_date
            FROM range(DATE '{window.start_date}', DATE '{window.end_date}' + 1, INTERVAL 1 DAY) AS t(day)),
        uses AS (
            SELECT event_date, user_email, customer_id FROM events WHERE event_type = 'feature_used')
        SELECT d.activity_date,
               count(DISTINCT u.user_email) FILTER (WHERE u.event_date = d.activity_date) AS active_users,
               count(DISTINCT u.customer_id) FILTER (WHERE u.event_date = d.activity_date) AS active_customers,
               count(DISTINCT u.user_email) FILTER (WHERE u.event_date > d.activity_date - 7)
                   AS weekly_active_users,
               count(DISTINCT u.user_email) AS monthly_active_users,
               count(u.event_date) FILTER (WHERE u.event_date = d.activity_date) AS feature_uses
        FROM days d LEFT JOIN uses u ON u.event_date BETWEEN d.activity_date - 27 AND d.activity_date
        GROUP BY d.activity_date
        ORDER BY d.activity_date
        """,
    ).query(
        "counts",
        """SELECT *, CASE WHEN monthly_active_users > 0 THEN active_users / monthly_active_users END
                     AS stickiness_ratio
           FROM counts""",
    )
