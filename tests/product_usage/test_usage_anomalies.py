"""product_usage.usage_anomalies on hand-built metrics; bands worked out below.

Parameters: a 4-day window, bands of 2 sigmas, at least 3 days of history, spread floored at 5% of
the mean.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from assets.product_usage.usage_anomalies import usage_anomalies
from checks.product_usage.usage_anomalies import UsageAnomalies
from mesh.quality.rules import check_structure, evaluate_rules, schema_from_model
from tests.product_usage.frames import dates, day, window

PARAMS = {"window_days": 4, "band_sigmas": 2.0, "min_history_days": 3, "min_relative_std": 0.05}
DAYS = ("2023-03-01", "2023-03-02", "2023-03-03", "2023-03-04", "2023-03-05")
DAILY = pd.DataFrame({"activity_date": dates(*DAYS), "active_users": [10, 12, 8, 10, 20],
                      "active_customers": [5] * 5, "feature_uses": [30] * 5})
FEATURES = pd.DataFrame({"activity_date": dates(*DAYS[:4], *DAYS[:2], "2023-03-04"),
                         "feature": ["alerts"] * 4 + ["dashboards"] * 3, "use_count": [10] * 4 + [4, 6, 5]})


def judged(first: str, last: str) -> dict[tuple, pd.Series]:
    out = usage_anomalies(DAILY, FEATURES, window(first, last), PARAMS)
    return {(r.metric_date, r.metric): r for _, r in out.iterrows()}


def test_bands_around_the_trailing_window():
    found = judged("2023-03-05", "2023-03-05")
    assert sorted(m for _, m in found) == ["active_customers", "active_users", "feature_uses",
                                           "feature_uses.alerts", "feature_uses.dashboards"]
    users = found[(day("2023-03-05"), "active_users")]
    # history 10, 12, 8, 10: mean 10, sample std sqrt((0 + 4 + 4 + 0) / 3) = 1.633; band 10 +- 3.266
    std = math.sqrt(8 / 3)
    assert (users.trailing_mean, users.trailing_std) == (10.0, pytest.approx(std))
    assert (users.lower_bound, users.upper_bound) == (pytest.approx(10 - 2 * std), pytest.approx(10 + 2 * std))
    assert users.is_anomaly and users.direction == "spike"
    assert users.deviation_sigmas == pytest.approx(10 / std)
    # a flat history of 5: the spread is floored at 5% of 5 = 0.25, band 4.5..5.5, and 5 is inside
    customers = found[(day("2023-03-05"), "active_customers")]
    assert (customers.lower_bound, customers.upper_bound, customers.is_anomaly) == (4.5, 5.5, False)
    # alerts: 10 every day, then nobody on 5 March (no row: 0 uses): band 9..11, a drop of 20 spreads
    alerts = found[(day("2023-03-05"), "feature_uses.alerts")]
    assert (alerts.value, alerts.is_anomaly, alerts.direction) == (0.0, True, "drop")
    assert alerts.deviation_sigmas == pytest.approx(-20.0)
    # dashboards: 4, 6, 0 (no row on 3 March), 5: mean 3.75, std sqrt(20.75 / 3) = 2.63; 0 is inside
    dashboards = found[(day("2023-03-05"), "feature_uses.dashboards")]
    assert dashboards.trailing_mean == 3.75 and dashboards.trailing_std == pytest.approx(math.sqrt(20.75 / 3))
    assert not dashboards.is_anomaly


def test_no_band_before_enough_history():
    found = judged("2023-03-03", "2023-03-04")
    early = found[(day("2023-03-03"), "active_users")]
    assert early.history_days == 2 and pd.isna(early.lower_bound) and not early.is_anomaly
    ready = found[(day("2023-03-04"), "active_users")]
    # 10, 12, 8: mean 10, std 2, band 6..14
    assert (ready.history_days, ready.lower_bound, ready.upper_bound) == (3, 6.0, 14.0)


def test_the_alert_is_a_warning_on_the_anomalous_rows():
    out = usage_anomalies(DAILY, FEATURES, window("2023-03-05"), PARAMS)
    schema = schema_from_model(UsageAnomalies, ["metric_date", "metric"])
    checked, structure = check_structure(out, schema)
    assert not structure.fatal and not structure.failing.any()
    outcomes = {o.rule.name: o for o in evaluate_rules(checked, schema)}
    flagged = set(out.loc[outcomes["metric_within_band"].failing, "metric"])
    assert flagged == {"active_users", "feature_uses.alerts"}
    assert outcomes["metric_within_band"].rule.severity == "warn"
    assert outcomes["band_is_ordered"].passed and outcomes["anomaly_has_band_and_direction"].passed
