"""product_usage.usage_anomalies: each usage metric against a band around its trailing window.

For a day D and a metric, the history is the metric's values on the ``window_days`` days before D
(days without a row count as 0 for feature uses: a feature nobody used). The band is the history's
mean plus or minus ``band_sigmas`` standard deviations, the deviation floored at
``min_relative_std`` times the mean; with fewer than ``min_history_days`` days of history there is
no band and no alert.
"""

from datetime import timedelta

import pandas as pd

from mesh.partitions import RunWindow

DAILY_METRICS = ["active_users", "active_customers", "feature_uses"]


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
