"""The faster product_usage functions give exactly what the reference (tests/product_usage/reference.py) gives.

usage_by_segment now picks the run's days and groups on the Arrow dates, turning only the aggregate
into Python dates; conversion_rates takes each day's cohort and rolling cohorts as slices of the
trials sorted by their end instead of filtering every trial per day. On generated events over 300
days (feature uses, sign-ups, trial starts and upgrades, a few without a date, before and after the
run, of customers the master does not know) and a master whose customers register across the run,
both give the same frame: values, dtypes and row order. usage_anomalies takes each day's trailing
window as a slice of the metric's sorted days (kept in the input's order, so that sums round as
before) instead of filtering all of them per day; its inputs here are generated too, with days
missing and rows out of order. daily_active_users joins each day to one row per day and user (with its
count of uses) of the trailing 28 days rather than to every use.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from assets.product_usage.conversion_rates import conversion_rates
from assets.product_usage.daily_active_users import daily_active_users
from assets.product_usage.usage_anomalies import usage_anomalies
from assets.product_usage.usage_by_segment import usage_by_segment
from tests.product_usage import reference
from tests.product_usage.frames import DATE, EVENT_COLUMNS, window

FIRST, LAST = "2023-01-01", "2023-10-27"  # 300 days
SEGMENTS = ["AUTOMOBILE", "BUILDING", "FURNITURE", "HOUSEHOLD", "MACHINERY"]


@pytest.fixture(scope="module")
def generated() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(14)
    start = np.datetime64("2022-12-01")  # a month before the run, and some days after it
    customers = pd.DataFrame({
        "customer_id": np.arange(1, 301),
        "market_segment": rng.choice(SEGMENTS, 300),
        "registered_date": pd.Series(start + rng.integers(0, 360, 300).astype("timedelta64[D]")).dt.date,
    })
    customers["registered_date"] = customers["registered_date"].astype(DATE)
    n = 60_000
    when = start + rng.integers(0, 345, n).astype("timedelta64[D]")
    customer, user = rng.integers(1, 340, n), rng.integers(1, 4, n)  # customers 301..339 are not in the master
    frame = pd.DataFrame({
        "event_id": [f"e{i}" for i in range(n)],
        "event_type": rng.choice(["feature_used"] * 40 + ["signed_up", "trial_started", "subscription_upgraded"], n),
        "event_source": "/product/web", "spec_version": "1.0",
        "event_time": pd.to_datetime(when).tz_localize("UTC"),
        "event_date": pd.Series(when).dt.date,
        "customer_id": customer,
        "user_email": [f"user{u}@customer{c}.example.com" for u, c in zip(user, customer, strict=True)],
        "feature": rng.choice(["alerts", "api", "dashboards", "reports"], n),
        "duration_seconds": rng.integers(1, 600, n).astype(float),
        "plan": "team", "monthly_price_usd": None, "cancel_reason": None,
    }, columns=EVENT_COLUMNS)
    frame.loc[rng.random(n) < 0.01, "event_date"] = None
    frame["event_date"] = frame["event_date"].astype(DATE)
    return frame, customers


def test_usage_by_segment_as_the_reference(generated):
    events, customers = generated
    run = window(FIRST, LAST)
    expected = reference.usage_by_segment(events, customers, run)
    found = usage_by_segment(events, customers, run)
    assert len(expected) > 300 * 4 and (expected["market_segment"] == "UNKNOWN").any()
    pd.testing.assert_frame_equal(found, expected, check_exact=True)


@pytest.mark.parametrize("params", [{"trial_days": 14, "rolling_days": 28}, {"trial_days": 7, "rolling_days": 1}])
def test_conversion_rates_as_the_reference(generated, params):
    events, _ = generated
    run = window(FIRST, LAST)
    expected = reference.conversion_rates(events, run, params)
    found = conversion_rates(events, run, params)
    assert expected["trials_converted"].sum() > 0 and expected["conversion_rate"].isna().any()
    assert expected["median_days_to_convert"].notna().any()
    pd.testing.assert_frame_equal(found, expected, check_exact=True)


def test_usage_anomalies_as_the_reference():
    rng = np.random.default_rng(7)
    days = pd.Series(pd.date_range("2022-12-04", LAST, freq="D").date)
    days = days[rng.random(len(days)) > 0.05].sample(frac=1.0, random_state=3)  # gaps, out of order
    daily = pd.DataFrame({"activity_date": days.astype(DATE).to_numpy(),
                          "active_users": rng.poisson(200, len(days)),
                          "active_customers": rng.poisson(100, len(days)),
                          "feature_uses": rng.poisson(900, len(days)) * rng.choice([1] * 7 + [3], len(days))})
    features = pd.DataFrame({"activity_date": np.repeat(days.to_numpy(), 3),
                             "feature": np.tile(["alerts", "api", "reports"], len(days)),
                             "use_count": rng.poisson(30, 3 * len(days))})
    features = features[rng.random(len(features)) > 0.1]  # a feature nobody used that day
    features["activity_date"] = features["activity_date"].astype(DATE)
    params = {"window_days": 28, "band_sigmas": 3.0, "min_history_days": 14, "min_relative_std": 0.05}
    run = window(FIRST, LAST)
    expected = reference.usage_anomalies(daily, features, run, params)
    found = usage_anomalies(daily, features, run, params)
    assert expected["is_anomaly"].any() and expected["trailing_std"].notna().any()
    pd.testing.assert_frame_equal(found, expected, check_exact=True)


def test_daily_active_users_as_the_reference(generated):
    events, _ = generated
    connection = duckdb.connect()
    relation = connection.from_df(events)
    run = window(FIRST, LAST)
    expected, found = reference.daily_active_users(relation, run), daily_active_users(relation, run)
    assert found.types == expected.types
    expected, found = expected.df(), found.df()
    assert (expected["feature_uses"] > expected["active_users"]).all()
    pd.testing.assert_frame_equal(found, expected, check_exact=True)
