"""supply_chain.stockout_alerts on hand-built stock and orders, worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from assets.supply_chain.stockout_alerts import stockout_alerts
from checks.supply_chain.stockout_alerts import StockoutAlerts
from mesh.quality.rules import evaluate_rules, schema_from_model
from tests.supply_chain.frames import daily_window, dates, day, relations, rows

# Alert below 10 days of cover; demand is what was ordered over the 4 days up to the day: (D - 4, D].
PARAMS = {"cover_days": 10, "demand_days": 4}


def inputs() -> dict:
    levels = pd.DataFrame({  # the changelog: a pair's level holds from its row until its next row
        "snapshot_date": dates("2026-11-01", "2026-11-05", "2026-11-01", "2026-11-03"),
        "part_id": [1, 1, 2, 3], "supplier_id": [10, 10, 20, 30],
        "registered_quantity": [20.0, 0.0, 1000.0, 0.0], "shipped_quantity": [0.0, 18.0, 0.0, 5.0],
        "replenished_quantity": [0.0, 0.0, 0.0, 0.0], "available_quantity": [20.0, 2.0, 1000.0, -5.0]})
    ordered = pd.DataFrame({
        "order_date": dates("2026-11-02", "2026-11-04", "2026-11-03", "2026-11-03"),
        "part_id": [1, 1, 2, 3], "supplier_id": [10, 10, 20, 30], "quantity": [8.0, 4.0, 40.0, 2.0]})
    return relations(inventory_levels=levels, order_lines=ordered)


def alerts(first: str, last: str) -> list[tuple]:
    out = rows(stockout_alerts(**inputs(), window=daily_window(first, last), params=PARAMS))
    return [(r["snapshot_date"], r["part_id"], r["available_quantity"], r["trailing_demand_quantity"],
             r["daily_demand_quantity"], r["days_of_cover"], r["is_out_of_stock"]) for r in out]


def test_alerts_when_stock_covers_fewer_days_than_the_threshold():
    expected = [
        # 11-04: (1, 10) ordered 8 + 4 = 12 over (10-31, 11-04], 3 a day; 20 on hand last for 20 / 3 = 6.67 days
        (day("2026-11-04"), 3, -5.0, 2.0, 0.5, 0.0, True),  # (3, 30): 2 ordered on 11-03, nothing on hand
        (day("2026-11-04"), 1, 20.0, 12.0, 3.0, 20 / 3, False),
        # 11-05: 18 shipped leaves 2 on hand: 2 / 3 = 0.67 days
        (day("2026-11-05"), 3, -5.0, 2.0, 0.5, 0.0, True),
        (day("2026-11-05"), 1, 2.0, 12.0, 3.0, 2 / 3, False),
        # 11-06: the 11-02 order leaves the window (11-02, 11-06]: 4 ordered, 1 a day, 2 days of cover
        (day("2026-11-06"), 3, -5.0, 2.0, 0.5, 0.0, True),
        (day("2026-11-06"), 1, 2.0, 4.0, 1.0, 2.0, False),
        # 11-07: (3, 30)'s order of 11-03 has left (11-03, 11-07]: no demand, no alert
        (day("2026-11-07"), 1, 2.0, 4.0, 1.0, 2.0, False),
    ]
    # (2, 20) never alerts: 40 ordered is 10 a day, and 1,000 on hand cover 100 days
    actual = alerts("2026-11-04", "2026-11-07")
    assert [a[:5] + a[6:] for a in actual] == [e[:5] + e[6:] for e in expected]
    assert [a[5] for a in actual] == pytest.approx([e[5] for e in expected])


@pytest.mark.parametrize("date", ["2026-11-02", "2026-11-04", "2026-11-05", "2026-11-06", "2026-11-08"])
def test_a_daily_run_gives_the_rows_of_the_ranged_run(date):
    # a daily run sees stock from before its day only as each pair's opening level
    ranged = [a for a in alerts("2026-11-01", "2026-11-08") if a[0] == day(date)]
    assert alerts(date, date) == ranged


def test_no_alert_before_the_first_order():
    assert alerts("2026-11-01", "2026-11-01") == []


def test_rules_catch_inconsistent_alerts():
    frame = pd.DataFrame({"snapshot_date": dates("2026-11-04", "2026-11-04"), "part_id": [1, 3],
                          "supplier_id": [10, 30], "available_quantity": [20.0, -5.0],
                          "trailing_demand_quantity": [12.0, 2.0], "daily_demand_quantity": [3.0, 0.5],
                          "days_of_cover": [5.0, 0.0], "is_out_of_stock": [False, True]})
    schema = schema_from_model(StockoutAlerts, ["snapshot_date", "part_id", "supplier_id"])
    outcomes = {o.rule.name: o for o in evaluate_rules(frame, schema)}
    assert list(outcomes["cover_matches_stock_and_demand"].failing) == [True, False]  # 20 / 3 is 6.67, not 5
    assert list(outcomes["still_in_stock"].failing) == [False, True]
    assert outcomes["still_in_stock"].rule.severity == "warn"
    assert not outcomes["out_of_stock_means_no_cover"].failing.any()
