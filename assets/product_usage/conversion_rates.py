"""product_usage.conversion_rates: trial-to-paid conversion per cohort, dated by the trial's end.

A customer's trial starts with its ``trial_started`` event and converts when a
``subscription_upgraded`` event follows within ``trial_days`` (the day of the start counts as the
first). A cohort is every trial started on one day; its outcome is known ``trial_days`` later,
the ``trial_end_date`` a row is dated by. The rolling figures pool the cohorts whose trials ended
on the ``rolling_days`` days up to that date; the input must reach that far back.
"""

from datetime import timedelta

import numpy as np
import pandas as pd

from mesh.partitions import RunWindow


def conversion_rates(events: pd.DataFrame, window: RunWindow, params: dict) -> pd.DataFrame:
    trial_days, rolling_days = int(params["trial_days"]), int(params["rolling_days"])
    trials = _trials(events, trial_days)
    # the trials sorted by the day they end: a day's cohort and its rolling cohorts are slices of them
    ends = np.array(pd.to_datetime(trials["trial_end_date"]).to_numpy(), dtype="datetime64[D]")
    known = ~np.isnat(ends)
    order = np.argsort(ends[known], kind="stable")
    ends = ends[known][order]
    converted = trials["converted"].to_numpy(dtype=bool)[known][order]
    days_to_convert = trials["days_to_convert"].to_numpy(dtype=float)[known][order]
    converted_before = np.concatenate([[0], np.cumsum(converted)])
    days = pd.date_range(window.start_date, window.end_date, freq="D").date
    day_numbers = np.array(days, dtype="datetime64[D]")
    cohort_first = np.searchsorted(ends, day_numbers, side="left")
    rolling_first = np.searchsorted(ends, day_numbers - np.timedelta64(rolling_days - 1, "D"), side="left")
    last = np.searchsorted(ends, day_numbers, side="right")
    rows = []
    for day, first, rolling, end in zip(days, cohort_first, rolling_first, last, strict=True):
        ended, ended_rolling = int(end - first), int(end - rolling)
        won, won_rolling = int(converted_before[end] - converted_before[first]), \
            int(converted_before[end] - converted_before[rolling])
        rows.append({
            "trial_end_date": day,
            "cohort_start_date": day - timedelta(days=trial_days),
            "trials_ended": ended,
            "trials_converted": won,
            "conversion_rate": won / ended if ended else None,
            "trials_ended_rolling": ended_rolling,
            "trials_converted_rolling": won_rolling,
            "conversion_rate_rolling": won_rolling / ended_rolling if ended_rolling else None,
            "median_days_to_convert": float(np.median(days_to_convert[rolling:end][converted[rolling:end]]))
            if won_rolling else None,
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
