"""product_usage.daily_active_users on hand-built events; expected counts worked out below."""

from __future__ import annotations

import duckdb
import pytest

from assets.product_usage.daily_active_users import daily_active_users
from checks.product_usage.daily_active_users import DailyActiveUsers
from mesh.quality.rules import check_structure, evaluate_rules, schema_from_model
from mesh.storage.ports import to_pandas
from tests.product_usage.frames import day, events, window

EVENTS = events(
    ("2023-02-01", 5, 1, "feature_used", "alerts"),  # 28 days before 1 March: outside every window here
    ("2023-02-05", 4, 1, "feature_used", "alerts"),  # inside the 28-day windows of 1-3 March only
    ("2023-03-01", 1, 1, "feature_used", "dashboards"),
    ("2023-03-01", 1, 2, "feature_used", "reports"),
    ("2023-03-01", 2, 1, "feature_used", "dashboards"),
    ("2023-03-01", 2, 1, "feature_used", "dashboards"),
    ("2023-03-01", 3, 1, "signed_up"),  # not usage
    ("2023-03-02", 1, 1, "feature_used", "dashboards"),
)


def compute(first: str, last: str):
    con = duckdb.connect()
    con.register("events_input", EVENTS)
    result = daily_active_users(con.table("events_input"), window(first, last))
    return to_pandas(result.to_arrow_table()).set_index("activity_date")


def test_daily_weekly_and_monthly_active_users():
    out = compute("2023-03-01", "2023-03-03")
    assert list(out.index) == [day("2023-03-01"), day("2023-03-02"), day("2023-03-03")]
    first, second, quiet = (out.loc[day(d)] for d in ("2023-03-01", "2023-03-02", "2023-03-03"))
    # 1 March: users c1u1, c1u2, c2u1 of customers 1 and 2; c2u1 used two features; the sign-up is no use.
    # 28 days back to 2 February add c4u1, so MAU = 4 and stickiness = 3 / 4.
    assert (first.active_users, first.active_customers, first.feature_uses) == (3, 2, 4)
    assert (first.weekly_active_users, first.monthly_active_users) == (3, 4)
    assert first.stickiness_ratio == pytest.approx(0.75)
    # 2 March: only c1u1 today; the week still holds the three users of 1 March; 1 / 4 = 0.25
    assert (second.active_users, second.active_customers, second.feature_uses) == (1, 1, 1)
    assert (second.weekly_active_users, second.monthly_active_users) == (3, 4)
    assert second.stickiness_ratio == pytest.approx(0.25)
    # 3 March: nobody, but the day has its row with zeros
    assert (quiet.active_users, quiet.feature_uses, quiet.weekly_active_users) == (0, 0, 3)


def test_the_rules_accept_the_result_and_catch_windows_that_do_not_nest():
    schema = schema_from_model(DailyActiveUsers, ["activity_date"])
    frame = compute("2023-03-01", "2023-03-02").reset_index()
    checked, structure = check_structure(frame, schema)
    assert not structure.fatal and not structure.failing.any()
    assert all(o.passed for o in evaluate_rules(checked, schema))
    frame.loc[1, "monthly_active_users"] = 2  # fewer monthly than weekly users
    outcomes = {o.rule.name: o for o in evaluate_rules(check_structure(frame, schema)[0], schema)}
    assert list(outcomes["active_windows_nest"].failing) == [False, True]
