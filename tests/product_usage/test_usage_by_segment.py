"""product_usage.usage_by_segment on hand-built events and customers; expected values worked out below."""

from __future__ import annotations

import pandas as pd

from assets.product_usage.usage_by_segment import usage_by_segment
from checks.product_usage.usage_by_segment import UsageBySegment
from mesh.quality.rules import check_structure, evaluate_rules, schema_from_model
from tests.product_usage.frames import dates, day, events, window

CUSTOMERS = pd.DataFrame({"customer_id": [1, 2, 3], "market_segment": ["BUILDING", "BUILDING", "MACHINERY"],
                          "registered_date": dates("2023-01-01", "2023-03-02", "2023-02-01")})
EVENTS = events(
    ("2023-03-01", 1, 1, "feature_used", "dashboards"), ("2023-03-01", 1, 1, "feature_used", "reports"),
    ("2023-03-01", 1, 2, "feature_used", "alerts"), ("2023-03-01", 3, 1, "feature_used", "alerts"),
    ("2023-03-01", 9, 1, "feature_used", "alerts"),  # customer 9 is not in the master
    ("2023-03-01", 3, 1, "signed_up"),
    ("2023-03-02", 2, 1, "feature_used", "api"),
)


def rows() -> dict[tuple, pd.Series]:
    out = usage_by_segment(EVENTS, CUSTOMERS, window("2023-03-01", "2023-03-02"))
    return {(r.activity_date, r.market_segment): r for _, r in out.iterrows()}


def test_activity_and_adoption_per_segment_and_day():
    found = rows()
    assert sorted(found) == sorted([(day("2023-03-01"), s) for s in ("BUILDING", "MACHINERY", "UNKNOWN")]
                                   + [(day("2023-03-02"), s) for s in ("BUILDING", "MACHINERY")])
    building = found[(day("2023-03-01"), "BUILDING")]
    # 1 March, BUILDING: customer 2 registers only on 2 March, so 1 registered; customer 1 active with 2 users
    # and 3 uses: adoption 1 / 1, 3 / 2 = 1.5 uses per active user
    assert (building.registered_customers, building.active_customers, building.active_users,
            building.feature_uses) == (1, 1, 2, 3)
    assert (building.adoption_rate, building.feature_uses_per_active_user) == (1.0, 1.5)
    # 2 March: BUILDING has 2 registered, 1 active (customer 2): 0.5; MACHINERY is quiet but listed
    assert found[(day("2023-03-02"), "BUILDING")].adoption_rate == 0.5
    quiet = found[(day("2023-03-02"), "MACHINERY")]
    assert (quiet.registered_customers, quiet.active_customers, quiet.adoption_rate) == (1, 0, 0.0)
    assert pd.isna(quiet.feature_uses_per_active_user)
    # customer 9's use counts, unsegmented, without an adoption rate
    unknown = found[(day("2023-03-01"), "UNKNOWN")]
    assert (unknown.registered_customers, unknown.active_customers, unknown.feature_uses) == (0, 1, 1)
    assert pd.isna(unknown.adoption_rate)


def test_unknown_customers_are_a_warning_not_an_error():
    out = usage_by_segment(EVENTS, CUSTOMERS, window("2023-03-01"))
    schema = schema_from_model(UsageBySegment, ["activity_date", "market_segment"])
    checked, structure = check_structure(out, schema)
    assert not structure.failing.any()
    outcomes = {o.rule.name: o for o in evaluate_rules(checked, schema)}
    assert list(outcomes["customer_in_master"].failing) == [False, False, True]
    assert outcomes["customer_in_master"].rule.severity == "warn"
    assert all(o.passed for name, o in outcomes.items() if name != "customer_in_master")
