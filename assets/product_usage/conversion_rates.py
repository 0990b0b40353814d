"""product_usage.conversion_rates: trial-to-paid conversion per cohort, dated by the trial's end.

A customer's trial starts with its ``trial_started`` event and converts when a
``subscription_upgraded`` event follows within ``trial_days`` (the day of the start counts as the
first). A cohort is every trial started on one day; its outcome is known ``trial_days`` later,
the ``trial_end_date`` a row is dated by. The rolling figures pool the cohorts whose trials ended
on the ``rolling_days`` days up to that date; the input must reach that far back.
"""

from datetime import timedelta

import pandas as pd

from mesh.partitions import RunWindow


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
