"""supply_chain.delivery_timelines on hand-built order lines, worked out by hand."""

from __future__ import annotations

import pandas as pd

from assets.supply_chain.delivery_timelines import delivery_timelines
from checks.supply_chain.delivery_timelines import DeliveryTimelines
from mesh.quality.rules import evaluate_rules, schema_from_model
from tests.supply_chain.frames import daily_window, dates, day, relations, rows


def order_lines() -> pd.DataFrame:
    return pd.DataFrame({
        "order_id": [1, 1, 1, 2, 3, 3], "line_number": [1, 2, 3, 1, 1, 2], "supplier_id": [10, 20, 10, 10, 30, 30],
        "order_date": dates("2026-11-01", "2026-11-01", "2026-11-01", "2026-11-01", "2026-11-02", "2026-11-02"),
        "ship_date": dates("2026-11-03", "2026-11-05", "2026-11-04", "2026-11-02", "2026-11-03", "2026-11-08"),
        "commit_date": dates("2026-11-10", "2026-11-06", "2026-11-07", "2026-11-20", "2026-11-20", "2026-11-20"),
        "receipt_date": dates("2026-11-08", "2026-11-09", "2026-11-08", "2026-11-04", "2026-11-05", "2026-11-12"),
    })


def timelines(first: str, last: str) -> list[dict]:
    return rows(delivery_timelines(**relations(order_lines=order_lines()), window=daily_window(first, last)))


def test_an_order_is_published_on_the_day_its_last_line_is_received():
    # order 2 is complete on 11-04, order 1 on 11-09; order 3 has a line received on 11-05 but its last
    # arrives on 11-12: on its way until then, in no partition before
    assert [(r["order_id"], r["last_receipt_date"]) for r in timelines("2026-11-01", "2026-11-11")] == [
        (2, day("2026-11-04")), (1, day("2026-11-09"))]
    assert [r["order_id"] for r in timelines("2026-11-09", "2026-11-09")] == [1]
    assert timelines("2026-11-05", "2026-11-08") == []
    [third] = timelines("2026-11-12", "2026-11-12")
    assert (third["order_id"], third["first_receipt_date"], third["line_count"]) == (3, day("2026-11-05"), 2)


def test_one_row_per_order_with_first_and_last_dates_and_delay():
    out = timelines("2026-11-04", "2026-11-09")
    assert len(out) == 2
    second, first = out  # in the order of their last receipt
    assert (first["order_id"], first["line_count"], first["supplier_count"]) == (1, 3, 2)
    assert (first["first_ship_date"], first["last_ship_date"]) == (day("2026-11-03"), day("2026-11-05"))
    assert (first["first_commit_date"], first["last_commit_date"]) == (day("2026-11-06"), day("2026-11-10"))
    assert (first["first_receipt_date"], first["last_receipt_date"]) == (day("2026-11-08"), day("2026-11-09"))
    assert first["lead_time_days"] == 8  # ordered 11-01, complete 11-09
    # line 1 arrives 2 days early; line 2 three days late (11-09 vs 11-06); line 3 one day late (11-08 vs 11-07)
    assert (first["late_line_count"], first["delay_days"], first["is_late"]) == (2, 3, True)
    # order 2: one line, 16 days early: a delay of 0, not -16
    assert (second["lead_time_days"], second["late_line_count"], second["delay_days"], second["is_late"]) == (
        3, 0, 0, False)


def test_rules_catch_inconsistent_timelines():
    good = pd.DataFrame(timelines("2026-11-04", "2026-11-09"))
    for column in [c for c in good.columns if c.endswith("_date")]:
        good[column] = good[column].astype(dates().dtype)
    bad = good.copy()
    bad.loc[0, "is_late"] = True  # order 2 late without late lines or delay
    bad.loc[0, "lead_time_days"] = 200
    outcomes = {o.rule.name: o for o in evaluate_rules(bad, schema_from_model(DeliveryTimelines, ["order_id"]))}
    assert list(outcomes["late_when_delayed"].failing) == [True, False]
    assert list(outcomes["lead_time_plausible"].failing) == [True, False]
    assert outcomes["lead_time_plausible"].rule.severity == "warn"
    assert not any(outcomes[n].failing.any() for n in ("first_not_after_last", "ship_not_before_order",
                                                        "receipt_not_before_ship", "late_lines_within_lines"))
