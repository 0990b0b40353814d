"""supply_chain.replenishments on a hand-built ERP frame, and its rules."""

from __future__ import annotations

import pandas as pd

from assets.supply_chain.replenishments import replenishments
from checks.supply_chain.replenishments import Replenishments
from mesh.quality.rules import evaluate_rules, schema_from_model
from tests.supply_chain.frames import dates, day


def erp_frame() -> pd.DataFrame:
    return pd.DataFrame({"r_partkey": [5, 6, 7], "r_suppkey": [1, 2, 3],
                         "r_received": dates("2026-11-01", "2026-11-01", "2026-11-01"),
                         "r_quantity": [40, 0, 5000]})


def test_replenishments_maps_the_receipt():
    out = replenishments(erp_frame())
    assert out.to_dict("records")[0] == {"part_id": 5, "supplier_id": 1, "received_date": day("2026-11-01"),
                                         "received_quantity": 40}


def test_rules_find_the_bad_receipts():
    schema = schema_from_model(Replenishments, ["part_id", "supplier_id", "received_date"])
    outcomes = {o.rule.name: o for o in evaluate_rules(replenishments(erp_frame()), schema)}
    assert list(outcomes["received_quantity_positive"].failing) == [False, True, False]  # receiving 0 is no receipt
    assert list(outcomes["received_quantity_plausible"].failing) == [False, False, True]  # 5,000 > 1,000: a warning
    assert outcomes["received_quantity_plausible"].rule.severity == "warn"
