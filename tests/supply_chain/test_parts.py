"""supply_chain.parts on a hand-built ERP frame, and its rules."""

from __future__ import annotations

import pandas as pd

from assets.supply_chain.parts import parts
from checks.supply_chain.parts import Parts
from mesh.quality.rules import evaluate_rules, schema_from_model
from tests.supply_chain.frames import dates, day


def erp_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "p_partkey": [1, 2, 3], "p_name": ["goldenrod lace", "blush thistle", "spring green"],
        "p_mfgr": ["Manufacturer#1", "Manufacturer#4", "Manufacturer#2"],
        "p_brand": ["Brand#13", "Brand#24", "Brand#25"], "p_type": ["PROMO BURNISHED COPPER"] * 3,
        "p_size": [7, 51, 50], "p_container": ["JUMBO PKG", "LG CASE", "WRAP CASE"],
        "p_retailprice": [901.0, -5.0, 2500.0], "p_comment": ["", "", ""],
        "p_registered": dates("2026-11-01", "2026-11-01", "2026-11-02"),
    })


def test_parts_maps_the_catalogue_record():
    out = parts(erp_frame())
    assert list(out.columns) == ["part_id", "name", "manufacturer", "brand", "part_type", "size", "container",
                                 "retail_price_usd", "registered_date"]
    first = out.iloc[0]
    assert (first["part_id"], first["brand"], first["size"], first["retail_price_usd"]) == (1, "Brand#13", 7, 901.0)
    assert out.iloc[2]["registered_date"] == day("2026-11-02")


def test_rules_find_the_bad_parts():
    outcomes = {o.rule.name: o for o in evaluate_rules(parts(erp_frame()), schema_from_model(Parts, []))}
    # part 2: Brand#24 is manufacturer 2's brand, not manufacturer 4's; size 51 is beyond 50; price negative
    assert list(outcomes["brand_of_manufacturer"].failing) == [False, True, False]
    assert list(outcomes["size_in_catalogue_range"].failing) == [False, True, False]
    assert list(outcomes["retail_price_positive"].failing) == [False, True, False]
    # 2,500 USD is positive but above the 2,100 catalogue ceiling: a warning; -5 is both
    assert list(outcomes["retail_price_plausible"].failing) == [False, True, True]
    assert outcomes["retail_price_plausible"].rule.severity == "warn"
