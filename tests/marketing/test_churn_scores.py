"""marketing.churn_scores: cutoffs, point-in-time features and labels, factors, and the model on a
synthetic history where fading usage drives churn."""

from __future__ import annotations

import math
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from assets.marketing.churn_model import LogisticModel
from assets.marketing.churn_scores import FEATURES, churn_scores, cutoffs, features_at, score_frame
from checks.marketing.churn_scores import ChurnScores
from mesh import Result
from mesh.quality.rules import check_structure, evaluate_rules, schema_from_model
from tests.product_usage.frames import DATE

PARAMS = {"label_horizon_days": 28, "holdout_cutoffs": 3, "training_cutoffs": 6, "usage_trend_days": 14,
          "recency_cap_days": 365, "l2_penalty": 1.0}
D = date.fromisoformat


def test_cutoffs_step_back_one_horizon_and_hold_out_the_newest():
    horizon, trend, holdout, training = cutoffs(D("2023-01-01"), D("2023-12-31"), PARAMS)
    # 365 days cover 9 cutoffs 28 days apart; the oldest, 23 April, still has 2 x 14 days of usage before it
    assert (horizon, trend) == (28, 14)
    assert holdout == [D("2023-12-03"), D("2023-11-05"), D("2023-10-08")]
    assert training[0] == D("2023-09-10") and training[-1] == D("2023-04-23") and len(training) == 6


def test_short_history_shrinks_horizon_and_trend_in_proportion():
    # 14 days of history against 2 x 28 + 2 x 14 = 84 needed: both shrink by 14 / 84 to 4 and 2 days;
    # cutoffs 10, 6 and 2 January; 2 January lacks 4 days of usage before it
    horizon, trend, holdout, training = cutoffs(D("2023-01-01"), D("2023-01-14"), PARAMS)
    assert (horizon, trend, holdout, training) == (4, 2, [D("2023-01-10")], [D("2023-01-06")])


def daily(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "event_date", "feature_uses", "status", "cancelled"]).assign(
        event_date=lambda f: f["event_date"].map(D))


def test_features_and_labels_use_only_what_was_known_at_the_cutoff():
    usage = daily(
        (1, "2023-06-20", 4, "team", False), (1, "2023-06-28", 1, "team", False),
        (1, "2023-07-05", 0, "cancelled", True),  # within 10 days after the cutoff: churned
        (2, "2023-06-29", 3, "business", False),
        (3, "2023-06-10", 2, "trial", False),  # still on trial: not scored
        (4, "2023-06-15", 2, "team", False), (4, "2023-06-25", 0, "cancelled", True),  # gone before
        (5, "2023-06-29", 1, "team", False), (5, "2023-07-15", 0, "cancelled", True),  # beyond the horizon
    )
    orders = pd.DataFrame({"customer_id": [1, 1, 5], "order_date": [D("2023-06-01"), D("2022-05-01"), D("2022-07-01")],
                           "total_price_usd": [100.0, 50.0, 200.0]})
    balances = pd.Series({1: 100.0, 2: -50.0})
    out = features_at(usage, orders, balances, D("2023-06-30"), trend_days=7, recency_cap_days=365,
                      horizon_days=10).set_index("customer_id")
    assert list(out.index) == [1, 2, 5]
    one, two, five = out.loc[1], out.loc[2], out.loc[5]
    # customer 1: 29 days since 1 June; the May 2022 order is older than 365 days; uses 1 in the last
    # 7 days against 4 the 7 days before: log(2 / 5)
    assert (one.days_since_last_order, one.order_count_365d, one.order_value_usd_365d) == (29, 1, 100.0)
    assert one.usage_trend_log_ratio == pytest.approx(math.log(2 / 5)) and one.feature_uses_recent == 1
    assert one.churned and one.plan == "team"
    # customer 2 never ordered: recency capped at 365; 3 uses after none: log(4 / 1)
    assert (two.days_since_last_order, two.order_count_365d, two.order_value_usd_365d) == (365, 0, 0.0)
    assert two.usage_trend_log_ratio == pytest.approx(math.log(4)) and not two.churned
    # customer 5: 1 July 2022 is 364 days back, inside the year; cancelled 15 days later: not within 10
    assert (five.days_since_last_order, five.order_count_365d, five.order_value_usd_365d) == (364, 1, 200.0)
    assert not five.churned and math.isnan(five.account_balance_usd)


def test_top_factors_are_the_features_raising_the_risk_most():
    model = LogisticModel(FEATURES, np.zeros(5), np.ones(5), np.array([1.0, -1.0, 0.5, -2.0, 0.0]), -3.0)
    current = pd.DataFrame({"customer_id": [7, 8], "scored_date": [D("2023-06-30")] * 2, "plan": ["team"] * 2,
                            "feature_uses_recent": [0, 9]}
                           | {f: [v1, v2] for f, v1, v2 in zip(FEATURES, [2.0, 0.0, 1.0, -1.0, 5.0],
                                                               [-1.0, 1.0, 0.0, 0.0, 0.0], strict=True)})
    matrix = current[FEATURES].to_numpy()
    out = score_frame(current, model.probability(matrix), model.contributions(matrix), 28).set_index("customer_id")
    # customer 7 adds 1 x 2 = 2.0 (recency), 2 x 1 = 2.0 (trend -1 x -2) and 0.5 x 1 = 0.5 (value):
    # log-odds -3 + 4.5 = 1.5; ties keep the feature order
    seven = out.loc[7]
    assert seven.churn_probability == pytest.approx(1 / (1 + math.exp(-1.5)))
    assert [seven.top_factor_1, seven.top_factor_2, seven.top_factor_3] == [
        "days_since_last_order", "usage_trend_log_ratio", "order_value_usd_365d"]
    assert [seven.top_factor_1_log_odds, seven.top_factor_3_log_odds] == [2.0, 0.5]
    # customer 8 adds -1 (recency) and -1 (orders): nothing raises the risk, so no factor is named
    assert pd.isna(out.loc[8, "top_factor_1"]) and pd.isna(out.loc[8, "top_factor_1_log_odds"])
    assert list(out.index) == [7, 8]  # riskiest first


def synthetic_history(customers: int = 300, days: int = 200, seed: int = 1):
    """Paying customers using the product daily; a third fade out over 6 weeks and cancel."""
    rng = np.random.default_rng(seed)
    start, rows = date(2023, 1, 1), []
    for customer in range(1, customers + 1):
        cancel = int(rng.integers(60, days + 120)) if rng.random() < 0.35 else None
        for day in range(days):
            if cancel is not None and day > cancel:
                break
            fading = 1.0 if cancel is None else min(1.0, max(0.1, (cancel - day) / 42))
            uses = int(rng.poisson(3 * fading))
            kind = "subscription_cancelled" if day == cancel else "feature_used"
            for _ in range(uses if kind == "feature_used" else 1):
                rows.append((customer, start + timedelta(days=day), kind, "team"))
    events = pd.DataFrame(rows, columns=["customer_id", "event_date", "event_type", "plan"])
    events["event_date"] = events["event_date"].astype(DATE)
    events["event_time"] = pd.to_datetime(events["event_date"].astype(str)).dt.tz_localize("UTC")
    orders = pd.DataFrame({"order_id": range(1, customers + 1), "customer_id": range(1, customers + 1),
                           "order_date": pd.Series([start] * customers, dtype=DATE),
                           "total_price_usd": rng.uniform(1000, 5000, customers)})
    customers_frame = pd.DataFrame({"customer_id": range(1, customers + 1),
                                    "account_balance_usd": rng.uniform(-500, 5000, customers)})
    return events, orders, customers_frame


def test_the_model_learns_that_fading_usage_precedes_churn():
    events, orders, customers = synthetic_history()
    con = duckdb.connect()
    con.register("orders_input", orders)  # relations over other names, as the pipeline passes them
    con.register("events_input", events)
    result = churn_scores(con.table("orders_input"), con.table("events_input"), customers, PARAMS)
    assert isinstance(result, Result)
    meta = result.metadata
    assert meta["model_status"] == "fitted" and meta["label_horizon_days"] == 28
    assert meta["coefficients_per_std"]["usage_trend_log_ratio"] < 0
    assert meta["auc_holdout"] > 0.8 and meta["holdout_churned"] > 0
    # events span days 0..199: cutoffs 28 days apart need 27 days of usage before them, (199 - 27) // 28 = 6;
    # a third of them, 2, are held out
    assert (len(meta["holdout_cutoffs"]), len(meta["training_cutoffs"])) == (2, 4)
    scores = result.data
    assert scores["churn_probability"].is_monotonic_decreasing
    schema = schema_from_model(ChurnScores, ["customer_id"])
    checked, structure = check_structure(scores, schema)
    assert not structure.fatal and not structure.failing.any()
    errors = [o for o in evaluate_rules(checked, schema, severity="error") if not o.passed]
    assert not errors
