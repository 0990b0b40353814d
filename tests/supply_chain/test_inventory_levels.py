"""supply_chain.inventory_levels on hand-built offers, shipments and replenishments, worked out by hand."""

from __future__ import annotations

import pandas as pd

from assets.supply_chain.inventory_levels import inventory_levels
from checks.supply_chain.inventory_levels import InventoryLevels
from mesh.quality.rules import evaluate_rules, schema_from_model
from tests.supply_chain.frames import daily_window, dates, day, relations, rows


def inputs() -> dict:
    return relations(
        part_suppliers=pd.DataFrame({
            "part_id": [1, 2, 3], "supplier_id": [10, 20, 30], "supply_cost_usd": [5.0, 6.0, 7.0],
            "initial_quantity": [100, 5, 7], "registered_date": dates("2026-11-01", "2026-11-01", "2026-11-03")}),
        replenishments=pd.DataFrame({
            "part_id": [1], "supplier_id": [10], "received_date": dates("2026-11-03"), "received_quantity": [50]}),
        order_lines=pd.DataFrame({
            "order_id": [1, 2, 3, 4], "part_id": [1, 1, 2, 1], "supplier_id": [10, 10, 20, 10],
            "quantity": [30.0, 20.0, 8.0, 5.0],
            "order_date": dates("2026-10-30", "2026-11-01", "2026-11-02", "2026-11-03"),
            "ship_date": dates("2026-11-02", "2026-11-02", "2026-11-03", "2026-11-05")}),
    )


def test_levels_move_with_registrations_shipments_and_replenishments():
    out = rows(inventory_levels(**inputs(), window=daily_window("2026-11-02", "2026-11-04")))
    columns = ("snapshot_date", "part_id", "supplier_id", "registered_quantity", "shipped_quantity",
               "replenished_quantity", "available_quantity")
    assert [tuple(r[c] for c in columns) for r in out] == [
        # (1, 10) opens the window at 100 (registered 11-01); two lines ship on 11-02: 100 - 30 - 20 = 50
        (day("2026-11-02"), 1, 10, 0.0, 50.0, 0.0, 50.0),
        # 11-03: 50 received back: 50 + 50 = 100
        (day("2026-11-03"), 1, 10, 0.0, 0.0, 50.0, 100.0),
        # (2, 20) opens at 5 and ships 8: 5 - 8 = -3, a backorder
        (day("2026-11-03"), 2, 20, 0.0, 8.0, 0.0, -3.0),
        # (3, 30) registered inside the window with 7 units
        (day("2026-11-03"), 3, 30, 7.0, 0.0, 0.0, 7.0),
    ]
    # nothing moved on 11-04, and the line shipping on 11-05 is after the window: no rows for them


def test_a_daily_run_gives_the_rows_of_the_ranged_run():
    ranged = [r for r in rows(inventory_levels(**inputs(), window=daily_window("2026-11-01", "2026-11-04")))
              if r["snapshot_date"] == day("2026-11-03")]
    daily = rows(inventory_levels(**inputs(), window=daily_window("2026-11-03", "2026-11-03")))
    assert daily == ranged and len(daily) == 3


def test_registration_day_opens_the_changelog():
    out = rows(inventory_levels(**inputs(), window=daily_window("2026-11-01", "2026-11-01")))
    # both offers registered on 11-01 appear with their initial stock; nothing shipped yet
    assert [(r["part_id"], r["registered_quantity"], r["available_quantity"]) for r in out] == [(1, 100.0, 100.0),
                                                                                                (2, 5.0, 5.0)]


def test_rules_flag_backorders_and_rows_without_movement():
    frame = pd.DataFrame({"snapshot_date": dates("2026-11-03", "2026-11-03", "2026-11-03"),
                          "part_id": [1, 2, 3], "supplier_id": [10, 20, 30], "registered_quantity": [0.0, 0.0, 0.0],
                          "shipped_quantity": [0.0, 8.0, -1.0], "replenished_quantity": [50.0, 0.0, 0.0],
                          "available_quantity": [100.0, -3.0, 7.0]})
    schema = schema_from_model(InventoryLevels, ["snapshot_date", "part_id", "supplier_id"])
    outcomes = {o.rule.name: o for o in evaluate_rules(frame, schema)}
    assert list(outcomes["available_not_negative"].failing) == [False, True, False]
    assert outcomes["available_not_negative"].rule.severity == "warn"
    assert list(outcomes["movements_not_negative"].failing) == [False, False, True]
    assert list(outcomes["row_only_when_stock_moved"].failing) == [False, False, True]  # -1 shipped is no movement
