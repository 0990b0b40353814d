"""product_usage.usage_anomalies: each usage metric against a band around its trailing window.

For a day D and a metric, the history is the metric's values on the ``window_days`` days before D
(days without a row count as 0 for feature uses: a feature nobody used). The band is the history's
mean plus or minus ``band_sigmas`` standard deviations, the deviation floored at
``min_relative_std`` times the mean; with fewer than ``min_history_days`` days of history there is
no band and no alert.
"""

import numpy as np
import pandas as pd

from mesh.partitions import RunWindow

DAILY_METRICS = ["active_users", "active_customers", "feature_uses"]


def usage_anomalies(daily_active_users: pd.DataFrame, feature_usage: pd.DataFrame, window: RunWindow,
                    params: dict) -> pd.DataFrame:
    series = _metric_series(daily_active_users, feature_usage)
    days = pd.date_range(window.start_date, window.end_date, freq="D").date
    window_days = np.timedelta64(int(params["window_days"]), "D")
    rows = []
    for metric, values in series.items():
        # the trailing window of a day is a slice of the metric's days in order (not a filter of all of them)
        order = np.argsort(np.array(values.index, dtype="datetime64[D]"), kind="stable")
        known = np.array(values.index, dtype="datetime64[D]")[order]
        numbers = values.to_numpy(dtype=float)
        chosen = np.array([day for day in days if day in values.index], dtype="datetime64[D]")
        positions = np.searchsorted(known, chosen, side="left")
        firsts = np.searchsorted(known, chosen - window_days, side="left")
        for day, position, first in zip(chosen.astype(object), positions, firsts, strict=True):
            earlier = numbers[np.sort(order[first:position])]  # in the input's order, as the sums were
            rows.append(_judge(metric, earlier, float(numbers[order[position]]), day, params))
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


def _judge(metric: str, earlier: np.ndarray, value: float, day, params: dict) -> dict:
    """The day's value against the band of its trailing window ``earlier`` (in the input's order)."""
    sigmas = float(params["band_sigmas"])
    row = {"metric_date": day, "metric": metric, "value": value, "history_days": len(earlier),
           "trailing_mean": None, "trailing_std": None, "lower_bound": None, "upper_bound": None,
           "deviation_sigmas": None, "is_anomaly": False, "direction": None}
    if len(earlier) < int(params["min_history_days"]):
        return row
    mean, std = _mean_std(earlier)
    spread = max(std, float(params["min_relative_std"]) * abs(mean))
    row.update(trailing_mean=mean, trailing_std=std, lower_bound=mean - sigmas * spread,
               upper_bound=mean + sigmas * spread)
    if spread > 0:
        row["deviation_sigmas"] = (value - mean) / spread
    outside = not row["lower_bound"] <= value <= row["upper_bound"]
    row.update(is_anomaly=outside, direction=("drop" if value < mean else "spike") if outside else None)
    return row


def _mean_std(values: np.ndarray) -> tuple[float, float]:
    """The mean and the standard deviation (ddof 1) as pandas' Series.mean and Series.std compute them."""
    if not len(values):
        return float("nan"), float("nan")
    mean = values.sum(dtype=np.float64) / len(values)
    if len(values) < 2:
        return float(mean), float("nan")
    return float(mean), float(np.sqrt(((mean - values) ** 2).sum(dtype=np.float64) / (len(values) - 1)))
