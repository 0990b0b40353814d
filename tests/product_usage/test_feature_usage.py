"""product_usage.feature_usage on hand-built events; expected values worked out below."""

from __future__ import annotations

import pytest

from assets.product_usage.feature_usage import feature_usage
from checks.product_usage.feature_usage import FeatureUsage
from mesh.quality.rules import check_structure, evaluate_rules, schema_from_model
from tests.product_usage.frames import day, events


def test_uses_users_customers_time_and_reach_per_feature():
    frame = events(
        ("2023-03-01", 1, 1, "feature_used", "dashboards"),
        ("2023-03-01", 1, 1, "feature_used", "dashboards"),
        ("2023-03-01", 2, 1, "feature_used", "dashboards"),
        ("2023-03-01", 1, 2, "feature_used", "reports"),
        ("2023-03-01", 3, 1, "signed_up"),
    )
    frame["duration_seconds"] = [10.0, 50.0, 90.0, 30.0, None]
    out = feature_usage(frame).set_index("feature")
    assert list(out.index) == ["dashboards", "reports"]
    dashboards, reports = out.loc["dashboards"], out.loc["reports"]
    # dashboards: 3 uses by c1u1 (twice) and c2u1, of customers 1 and 2; 10 + 50 + 90 = 150 s, median 50 s;
    # the day's active users are c1u1, c2u1 and c1u2, so the reach is 2 / 3
    assert (dashboards.use_count, dashboards.user_count, dashboards.customer_count) == (3, 2, 2)
    assert (dashboards.total_duration_seconds, dashboards.median_duration_seconds) == (150.0, 50.0)
    assert dashboards.share_of_active_users == pytest.approx(2 / 3)
    assert (reports.use_count, reports.user_count, reports.share_of_active_users) == (1, 1, pytest.approx(1 / 3))
    assert set(out["activity_date"]) == {day("2023-03-01")}


def test_an_uncatalogued_feature_is_published_with_a_warning():
    out = feature_usage(events(("2023-03-01", 1, 1, "feature_used", "ai_assistant")))
    schema = schema_from_model(FeatureUsage, ["activity_date", "feature"])
    outcomes = {o.rule.name: o for o in evaluate_rules(check_structure(out, schema)[0], schema)}
    assert list(outcomes["feature_in_catalog"].failing) == [True]
    assert outcomes["feature_in_catalog"].rule.severity == "warn"
    assert outcomes["users_not_above_uses"].passed and outcomes["reach_is_a_fraction"].passed


def test_a_day_without_feature_use_has_no_rows():
    assert feature_usage(events(("2023-03-01", 3, 1, "signed_up"))).empty
