"""governance.slo_scorecard on hand-built observations."""

from __future__ import annotations

import pandas as pd

from assets.governance.slo_scorecard import slo_scorecard


def t(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_scorecard_scores_each_product():
    status = pd.DataFrame({
        "product": ["sales.orders", "sales.order_lines", "x.new"],
        "domain": ["sales", "sales", "x"], "owner": ["team:sales", "team:sales", "team:x"],
        "newest_partition": ["2026-11-24", "2026-11-20", None],
        "published_at": [t("2026-11-25 02:00"), t("2026-11-21 02:00"), pd.NaT],
        "rows_quarantined": [3, 0, 0], "freshness_slo": ["by 06:00 UTC"] * 3,
        "freshness_state": ["PASS", "FAIL", "FAIL"], "freshness_lag_hours": [None, None, None],
        "freshness_detail": ["ok", "partition 2026-11-24 was due", "nothing published yet"],
    })
    checks = pd.DataFrame({
        "product": ["sales.orders"] * 4 + ["sales.order_lines"] * 2,
        "check_name": ["error_rate", "structure", "error_rate", "structure", "error_rate", "structure"],
        "run_id": ["r2", "r2", "r1", "r1", "s1", "s1"],
        "passed": [True, True, False, True, False, True],
        "severity": ["ERROR"] * 6,
        "evaluated_at": [t("2026-11-25 02:00")] * 2 + [t("2026-11-24 02:00")] * 2 + [t("2026-11-21 02:00")] * 2,
        "failure_rate": [0.01, None, 0.20, None, 0.5, None],
    })
    out = slo_scorecard(status, checks, {"runs": 10}).set_index("product")
    orders = out.loc["sales.orders"]
    # 3 of 4 results passed; the error rate fell from 20% to 1%; nothing fails now
    assert orders["check_pass_rate"] == 0.75
    assert orders["error_rate_trend"] == "falling" and orders["error_rate_latest"] == 0.01
    assert orders["slo_status"] == "met" and pd.isna(orders["checks_failing"])
    lines = out.loc["sales.order_lines"]
    assert lines["slo_status"] == "breached"
    assert "freshness: partition 2026-11-24 was due" in lines["breaches"] and "error_rate failing" in lines["breaches"]
    assert out.loc["x.new", "slo_status"] == "unknown"
    # only the last `runs` runs count
    assert slo_scorecard(status, checks, {"runs": 1}).set_index("product").loc["sales.orders", "check_pass_rate"] == 1.0
