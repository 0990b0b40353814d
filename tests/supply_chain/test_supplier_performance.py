"""supply_chain.supplier_performance on hand-built orders, worked out by hand, including Q21's kept-waiting lines."""

from __future__ import annotations

import pandas as pd
import pytest

from assets.supply_chain.supplier_performance import supplier_performance
from checks.supply_chain.supplier_performance import SupplierPerformance
from mesh.quality.rules import evaluate_rules, schema_from_model
from tests.supply_chain.frames import dates, day, relations, rows

# (order, supplier, commit, receipt, return flag); the comment says what the line is
LINES = [
    (1, 10, "2026-10-20", "2026-10-25", "R"),  # 5 days late, alone in an F order with supplier 20: kept waiting
    (1, 20, "2026-10-20", "2026-10-18", "A"),  # on time
    (2, 10, "2026-10-20", "2026-10-22", "A"),  # 2 late, but supplier 20 was late too: nobody kept it waiting alone
    (2, 20, "2026-10-20", "2026-10-23", "A"),  # 3 late
    (3, 10, "2026-11-05", "2026-11-04", "A"),  # on time (a day early: delay 0, not -1)
    (3, 20, "2026-11-01", "2026-11-02", "A"),  # 1 late and alone, but order 3 has status O: not Q21's
    (4, 10, "2026-11-01", "2026-11-03", "A"),  # 2 late, order 4 has no other supplier: not Q21's
    (4, 10, "2026-11-01", "2026-11-02", "A"),  # 1 late, same
    (5, 10, "2026-11-10", "2026-11-12", "A"),  # 2 late, alone beside supplier 30: kept waiting
    (5, 10, "2026-11-10", "2026-11-11", "A"),  # 1 late, alone: kept waiting (Q21 counts lines)
    (5, 30, "2026-11-15", "2026-11-15", "R"),  # on time (receipt on the commit date), returned
    (6, 30, "2026-11-25", "2026-11-28", "A"),  # received after the business day 11-20: not delivered yet
    (6, 10, "2026-11-30", "2026-12-05", "A"),  # same
]
ORDER_DATES = {1: "2026-10-01", 2: "2026-10-02", 3: "2026-10-03", 4: "2026-10-04", 5: "2026-10-05", 6: "2026-11-20"}
STATUS = {1: "F", 2: "F", 3: "O", 4: "F", 5: "F", 6: "O"}


def inputs() -> dict:
    order_lines = pd.DataFrame({
        "order_id": [o for o, *_ in LINES], "supplier_id": [s for _, s, *_ in LINES],
        "order_date": dates(*(ORDER_DATES[o] for o, *_ in LINES)),
        "commit_date": dates(*(c for *_, c, _, _ in LINES)), "receipt_date": dates(*(r for *_, r, _ in LINES)),
        "return_flag": [f for *_, f in LINES]})
    orders = pd.DataFrame({"order_id": list(STATUS), "status": list(STATUS.values()),
                           "order_date": dates(*ORDER_DATES.values())})
    suppliers = pd.DataFrame({  # supplier 20 is not in the master; 30 registered twice, the newest wins
        "supplier_id": [10, 30, 30], "name": ["Supplier#10", "Supplier#30-old", "Supplier#30"],
        "nation": ["FRANCE", "JAPAN", "CHINA"], "registered_date": dates("2026-01-01", "2026-01-01", "2026-06-01")})
    return relations(order_lines=order_lines, orders=orders, suppliers=suppliers)


def test_measures_per_supplier_and_receipt_month():
    out = rows(supplier_performance(**inputs()))
    columns = ("supplier_id", "supplier_name", "nation", "receipt_month", "lines_delivered", "on_time_lines",
               "on_time_rate", "average_delay_days", "returned_lines", "return_rate", "kept_waiting_lines")
    expected = [
        # October, supplier 10: orders 1 and 2, both late (5 and 2 days): delay (5 + 2) / 2; one returned
        (10, "Supplier#10", "FRANCE", day("2026-10-01"), 2, 0, 0.0, 3.5, 1, 0.5, 1),
        # November, supplier 10: orders 3 (on time), 4 (2, 1 late), 5 (2, 1 late): delay (0+2+1+2+1) / 5 = 1.2
        (10, "Supplier#10", "FRANCE", day("2026-11-01"), 5, 1, 0.2, 1.2, 0, 0.0, 2),
        # supplier 20 is unknown to the master: its measures stay, its name and nation are empty
        (20, None, None, day("2026-10-01"), 2, 1, 0.5, 1.5, 0, 0.0, 0),  # delay (0 + 3) / 2
        (20, None, None, day("2026-11-01"), 1, 0, 0.0, 1.0, 0, 0.0, 0),
        (30, "Supplier#30", "CHINA", day("2026-11-01"), 1, 1, 1.0, 0.0, 1, 1.0, 0),  # order 6 not delivered yet
    ]
    actual = [tuple(r[c] for c in columns) for r in out]
    assert [a[:6] for a in actual] == [e[:6] for e in expected]
    for a, e in zip(actual, expected, strict=True):
        assert a[6:] == pytest.approx(e[6:])
    # Q21 summed over months: supplier 10 kept orders waiting with 1 + 2 lines
    assert sum(r["kept_waiting_lines"] for r in out if r["supplier_id"] == 10) == 3


def test_an_order_with_a_missing_status_is_not_q21s():
    frames = inputs()
    orders_without_5 = frames["orders"].filter("order_id <> 5")
    out = rows(supplier_performance(frames["order_lines"], orders_without_5, frames["suppliers"]))
    assert sum(r["kept_waiting_lines"] for r in out) == 1  # only order 1 still counts


def test_rules_catch_inconsistent_measures():
    frame = pd.DataFrame({"supplier_id": [10, 20], "supplier_name": ["Supplier#10", None], "nation": ["FRANCE", None],
                          "receipt_month": dates("2026-10-01", "2026-10-01"), "lines_delivered": [2, 2],
                          "on_time_lines": [0, 1], "on_time_rate": [0.0, 0.4], "average_delay_days": [3.5, 1.5],
                          "returned_lines": [1, 0], "return_rate": [0.5, 0.0], "kept_waiting_lines": [1, 2]})
    outcomes = {o.rule.name: o for o in evaluate_rules(frame, schema_from_model(SupplierPerformance, []))}
    assert list(outcomes["rates_match_counts"].failing) == [False, True]  # 1 / 2 is 0.5, not 0.4
    assert list(outcomes["kept_waiting_only_by_late_lines"].failing) == [False, True]  # 2 kept, only 1 late
    assert list(outcomes["supplier_in_master"].failing) == [False, True]
    assert outcomes["supplier_in_master"].rule.severity == "warn"
    assert not outcomes["delay_only_with_late_lines"].failing.any()
