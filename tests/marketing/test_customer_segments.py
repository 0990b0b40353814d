"""marketing.customer_segments on hand-built churn scores; tiers and revenue at risk worked out below."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from assets.marketing.customer_segments import customer_segments, value_tiers
from checks.marketing.customer_segments import CustomerSegments
from mesh.quality.rules import check_structure, evaluate_rules, schema_from_model

PARAMS = {"high_value_share": 0.2, "medium_value_share": 0.3, "high_risk_probability": 0.15,
          "medium_risk_probability": 0.05}


def test_value_tiers_rank_revenue_and_leave_no_revenue_low():
    # 10 customers: 500 and 400 are the top 20%, 300, 200 and 100 the next 30%; the five without revenue share
    # the rank of 60%, low
    revenue = pd.Series([500.0, 400, 300, 200, 100, 0, 0, 0, 0, 0])
    assert value_tiers(revenue, 0.2, 0.3).tolist() == ["high"] * 2 + ["medium"] * 3 + ["low"] * 5


def test_counts_revenue_and_revenue_at_risk_per_segment_value_and_risk():
    scores = pd.DataFrame({
        "customer_id": [1, 2, 3, 4, 5],
        "churn_probability": [0.30, 0.20, 0.01, 0.10, 0.02],
        "order_value_usd_365d": [1000.0, 800.0, 600.0, 0.0, 100.0],
        "scored_date": [date(2023, 6, 30)] * 5, "churn_horizon_days": [28] * 5,
    })
    customers = pd.DataFrame({"customer_id": [1, 2, 3, 4], "market_segment": ["BUILDING"] * 3 + ["MACHINERY"]})
    out = customer_segments(scores, customers, PARAMS).set_index(["market_segment", "value_tier", "risk_tier"])
    # ranks of 5 by revenue: 1000 is the top 20% (high), 800 at 40% within the next 30% (medium), 600 at 60%,
    # 100 and 0 are low
    high_high = out.loc[("BUILDING", "high", "high")]
    assert (high_high.customer_count, high_high.revenue_usd_365d) == (1, 1000.0)
    assert high_high.revenue_at_risk_usd == pytest.approx(300.0)  # 0.30 x 1000
    assert out.loc[("BUILDING", "medium", "high")].revenue_at_risk_usd == pytest.approx(160.0)  # 0.20 x 800
    assert out.loc[("BUILDING", "low", "low")].revenue_at_risk_usd == pytest.approx(6.0)  # 0.01 x 600
    # customer 4: no revenue, p 0.10 (medium risk); customer 5 is not in the master
    assert out.loc[("MACHINERY", "low", "medium")].customer_count == 1
    unknown = out.loc[("UNKNOWN", "low", "low")]
    assert (unknown.customer_count, unknown.revenue_at_risk_usd) == (1, pytest.approx(2.0))
    assert out["customer_count"].sum() == 5
    assert list(out["revenue_at_risk_usd"]) == sorted(out["revenue_at_risk_usd"], reverse=True)

    schema = schema_from_model(CustomerSegments, ["market_segment", "value_tier", "risk_tier"])
    checked, structure = check_structure(out.reset_index(), schema)
    assert not structure.failing.any()
    outcomes = {o.rule.name: o for o in evaluate_rules(checked, schema)}
    assert outcomes["customer_in_master"].failing_rows == 1 and outcomes["customer_in_master"].rule.severity == "warn"
    assert outcomes["at_risk_not_above_revenue"].passed and outcomes["probability_is_a_fraction"].passed
