"""product_usage.conversion_rates on hand-built trials; expected rates worked out below.

With trial_days = 3 and rolling_days = 2: customers 1 and 2 start on 1 March (trials end 4 March),
3 and 4 on 2 March (end 5 March). 1 upgrades after 1 day, 4 after 2 days: converted. 2 upgrades
after 4 days, once the trial ran out: not a trial conversion. 3 never upgrades.
"""

from __future__ import annotations

import pandas as pd
import pytest

from assets.product_usage.conversion_rates import conversion_rates
from checks.product_usage.conversion_rates import ConversionRates
from mesh.quality.rules import check_structure, evaluate_rules, schema_from_model
from tests.product_usage.frames import day, events, window

TRIALS = events(
    ("2023-03-01", 1, 1, "trial_started", "trial"), ("2023-03-01", 2, 1, "trial_started", "trial"),
    ("2023-03-02", 3, 1, "trial_started", "trial"), ("2023-03-02", 4, 1, "trial_started", "trial"),
    ("2023-03-02", 1, 1, "subscription_upgraded", "team"), ("2023-03-04", 4, 1, "subscription_upgraded", "team"),
    ("2023-03-05", 2, 1, "subscription_upgraded", "team"),
)
PARAMS = {"trial_days": 3, "rolling_days": 2}


def test_cohort_and_rolling_conversion_by_trial_end_date():
    out = conversion_rates(TRIALS, window("2023-03-04", "2023-03-05"), PARAMS).set_index("trial_end_date")
    fourth, fifth = out.loc[day("2023-03-04")], out.loc[day("2023-03-05")]
    # 4 March: the cohort of 1 March is customers 1 and 2, of whom 1 converted: 1 / 2
    assert fourth.cohort_start_date == day("2023-03-01")
    assert (fourth.trials_ended, fourth.trials_converted, fourth.conversion_rate) == (2, 1, 0.5)
    # its rolling window (trials ending 3-4 March) holds the same two trials; customer 1 took 1 day
    assert (fourth.trials_ended_rolling, fourth.trials_converted_rolling) == (2, 1)
    assert fourth.median_days_to_convert == 1.0
    # 5 March: cohort 3 and 4, of whom 4 converted; rolling (ending 4-5 March): all four, 2 converted;
    # median of 1 and 2 days is 1.5
    assert (fifth.trials_ended, fifth.trials_converted, fifth.conversion_rate) == (2, 1, 0.5)
    assert (fifth.trials_ended_rolling, fifth.trials_converted_rolling) == (4, 2)
    assert fifth.conversion_rate_rolling == pytest.approx(0.5)
    assert fifth.median_days_to_convert == 1.5


def test_a_day_without_ending_trials_has_no_rate_and_passes_the_rules():
    out = conversion_rates(TRIALS, window("2023-03-03", "2023-03-06"), PARAMS)
    empty = out.set_index("trial_end_date").loc[day("2023-03-06")]
    assert empty.trials_ended == 0 and pd.isna(empty.conversion_rate)
    schema = schema_from_model(ConversionRates, ["trial_end_date"])
    checked, structure = check_structure(out, schema)
    assert not structure.fatal and not structure.failing.any()
    assert all(o.passed for o in evaluate_rules(checked, schema))
