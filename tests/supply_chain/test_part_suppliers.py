"""supply_chain.part_suppliers on a hand-built ERP frame, and its rules."""

from __future__ import annotations

import pandas as pd

from assets.supply_chain.part_suppliers import part_suppliers
from checks.supply_chain.part_suppliers import PartSuppliers
from mesh.quality.rules import evaluate_rules, schema_from_model
from tests.supply_chain.frames import dates, day


def erp_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "ps_partkey": [1, 1, 2], "ps_suppkey": [2, 27, 3], "ps_availqty": [3325, -1, 20000],
        "ps_supplycost": [771.64, 0.0, 1500.0], "ps_registered": dates("2026-11-01", "2026-11-01", "2026-11-03"),
    })


def test_part_suppliers_maps_the_offer():
    out = part_suppliers(erp_frame())
    assert out.to_dict("records")[0] == {"part_id": 1, "supplier_id": 2, "supply_cost_usd": 771.64,
                                         "initial_quantity": 3325, "registered_date": day("2026-11-01")}


def test_rules_find_the_bad_offers():
    schema = schema_from_model(PartSuppliers, ["part_id", "supplier_id"])
    outcomes = {o.rule.name: o for o in evaluate_rules(part_suppliers(erp_frame()), schema)}
    # offer (1, 27): no stock can be negative and nothing is free
    assert list(outcomes["initial_quantity_not_negative"].failing) == [False, True, False]
    assert list(outcomes["supply_cost_positive"].failing) == [False, True, False]
    # offer (2, 3): 20,000 units and 1,500 USD a unit are possible but beyond what the ERP ever held
    assert list(outcomes["initial_quantity_plausible"].failing) == [False, False, True]
    assert list(outcomes["supply_cost_plausible"].failing) == [False, False, True]
    assert {outcomes[n].rule.severity for n in ("initial_quantity_plausible", "supply_cost_plausible")} == {"warn"}
