"""The faster product_usage functions give exactly what the reference (tests/product_usage/reference.py) gives.

usage_by_segment now picks the run's days and groups on the Arrow dates, turning only the aggregate
into Python dates; conversion_rates takes each day's cohort and rolling cohorts as slices of the
trials sorted by their end instead of filtering every trial per day. On generated events over 300
days (feature uses, sign-ups, trial starts and upgrades, a few without a date, before and after the
run, of customers the master does not know) and a master whose customers register across the run,
both give the same frame: values, dtypes and row order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assets.product_usage.conversion_rates import conversion_rates
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
