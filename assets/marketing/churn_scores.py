"""marketing.churn_scores: the chance each paying customer cancels soon, and why.

Examples come from the mesh's own history. At a cutoff day c, the population is the customers
whose latest product status by c is a paid plan; their features use only what was known by c, and
the label is whether they cancelled within the ``label_horizon_days`` after c. Cutoffs step back
one horizon at a time from the scoring date (the newest day with events): the most recent ones are
held out for evaluation, the earlier ones, whose labels end before the holdout starts, train the
model (``churn_model``). With less history than the parameters need, horizon and trend window
shrink in proportion; what was used is recorded in the metadata, with AUC and coefficients.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from assets.marketing.churn_model import LogisticModel, auc, fit
from mesh import Result

FEATURES = ["days_since_last_order", "order_count_365d", "order_value_usd_365d", "usage_trend_log_ratio",
            "account_balance_usd"]
NOT_PAYING = ("trial", "expired", "cancelled")
TOP_FACTORS = 3
ORDER_WINDOW_DAYS = 365


def churn_scores(orders: duckdb.DuckDBPyRelation, events: duckdb.DuckDBPyRelation, customers: pd.DataFrame,
                 params: dict) -> Result:
    daily = daily_usage(events)
    placed = orders.query("orders", "SELECT customer_id, order_date, total_price_usd FROM orders").df()
    balances = customers.set_index("customer_id")["account_balance_usd"]
    if daily.empty:
        return Result(score_frame(pd.DataFrame(), np.zeros(0), np.zeros((0, len(FEATURES))), 0),
                      {"model_status": "no product events published yet"})
    scored = daily["event_date"].max().date()
    horizon, trend, holdout, training = cutoffs(daily["event_date"].min().date(), scored, params)
    cap = int(params["recency_cap_days"])
    days = {"training": training, "holdout": holdout}
    examples = {name: examples_at(daily, placed, balances, days[name], trend, cap, horizon) for name in days}
    model = fit(model_matrix(examples["training"]), examples["training"]["churned"], FEATURES,
                float(params["l2_penalty"]))
    current = features_at(daily, placed, balances, scored, trend, cap)
    matrix = model_matrix(current)
    out = score_frame(current, model.probability(matrix), model.contributions(matrix), horizon)
    return Result(out, evaluation(model, examples, days, scored, horizon, trend, float(params["l2_penalty"])))


def evaluation(model: LogisticModel, examples: dict[str, pd.DataFrame], days: dict[str, list[date]], scored: date,
               horizon: int, trend: int, l2_penalty: float) -> dict[str, object]:
    """What the materialization records: the model, its cutoffs, examples, AUCs and status."""
    metadata: dict[str, object] = {
        "model": f"logistic regression on standardized features, L2 penalty {l2_penalty} (numpy)",
        "scored_date": scored.isoformat(), "label_horizon_days": horizon, "usage_trend_days": trend,
        **model.describe(),
    }
    for name, frame in examples.items():
        metadata[f"{name}_cutoffs"] = [d.isoformat() for d in days[name]]
        metadata[f"{name}_rows"] = len(frame)
        metadata[f"{name}_churned"] = int(frame["churned"].sum())
        found = auc(model.probability(model_matrix(frame)), frame["churned"]) if len(frame) else None
        if found is not None:
            metadata[f"auc_{name}"] = round(found, 4)
    metadata["model_status"] = _status(examples, metadata)
    return metadata


def _status(examples: dict[str, pd.DataFrame], metadata: dict[str, object]) -> str:
    churned = examples["training"]["churned"]
    if not 0 < churned.sum() < len(churned):
        return ("not fitted: the training cutoffs hold no example of both outcomes; every score is the smoothed "
                "base rate")
    if "auc_holdout" not in metadata:
        return "fitted; AUC undefined: the holdout cutoffs saw only one outcome"
    return "fitted"


def daily_usage(events: duckdb.DuckDBPyRelation) -> pd.DataFrame:
    """Per customer and day: feature uses, the status the day ends in, and whether they cancelled."""
    return events.query("events", """
        SELECT customer_id, event_date,
               count(*) FILTER (WHERE event_type = 'feature_used') AS feature_uses,
               arg_max(CASE WHEN event_type = 'subscription_cancelled' THEN 'cancelled'
                            WHEN event_type = 'trial_expired' THEN 'expired' ELSE plan END, event_time)
                   FILTER (WHERE plan IS NOT NULL OR event_type IN ('subscription_cancelled', 'trial_expired'))
                   AS status,
               bool_or(event_type = 'subscription_cancelled') AS cancelled
        FROM events GROUP BY ALL ORDER BY event_date, customer_id""").df()


def cutoffs(first: date, scored: date, params: dict) -> tuple[int, int, list[date], list[date]]:
    """Horizon and trend window in days, holdout and training cutoffs (newest first)."""
    horizon, trend = int(params["label_horizon_days"]), int(params["usage_trend_days"])
    holdout_count, training_count = int(params["holdout_cutoffs"]), int(params["training_cutoffs"])
    span = (scored - first).days + 1
    if span < 2 * horizon + 2 * trend:  # too little history: shrink both windows in proportion
        factor = span / (2 * horizon + 2 * trend)
        horizon, trend = max(1, int(horizon * factor)), max(1, int(trend * factor))
    days = [scored - timedelta(days=k * horizon) for k in range(1, holdout_count + training_count + 1)]
    days = [c for c in days if c - timedelta(days=2 * trend - 1) >= first]
    held = max(0, min(len(days) - 1, max(1, round(len(days) * holdout_count / (holdout_count + training_count)))))
    return horizon, trend, days[:held], days[held:]


def examples_at(daily: pd.DataFrame, placed: pd.DataFrame, balances: pd.Series, days: list[date], trend_days: int,
                recency_cap_days: int, horizon_days: int) -> pd.DataFrame:
    """Labelled examples of several cutoffs, stacked (a customer appears once per cutoff)."""
    frames = [features_at(daily, placed, balances, c, trend_days, recency_cap_days, horizon_days) for c in days]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*FEATURES, "churned"])


def features_at(daily: pd.DataFrame, placed: pd.DataFrame, balances: pd.Series, cutoff: date, trend_days: int,
                recency_cap_days: int, horizon_days: int | None = None) -> pd.DataFrame:
    """The paying customers at ``cutoff`` with their features as known then (and, given a horizon,
    whether they cancelled within it). Days are compared as datetime64, not as date objects one by one."""
    daily, placed = _datetimes(daily, "event_date"), _datetimes(placed, "order_date")
    at = pd.Timestamp(cutoff)
    known = daily[daily["event_date"] <= at]
    status = known.dropna(subset=["status"]).groupby("customer_id")["status"].last()
    paying = status[~status.isin(NOT_PAYING)]
    out = pd.DataFrame({"customer_id": paying.index.astype("int64"), "plan": paying.to_numpy()})
    recent = _sum_between(known, "feature_uses", at - timedelta(days=trend_days), at)
    before = _sum_between(known, "feature_uses", at - timedelta(days=2 * trend_days), at - timedelta(days=trend_days))
    orders = placed[placed["order_date"] <= at]
    last_order = orders.groupby("customer_id")["order_date"].max()
    year = orders[orders["order_date"] > at - timedelta(days=ORDER_WINDOW_DAYS)].groupby("customer_id")
    ids = out["customer_id"]
    last = pd.Series(last_order.reindex(ids.to_numpy()).to_numpy(), index=ids.index)  # NaT: never ordered
    since = (at - last).dt.days.fillna(recency_cap_days)
    out["days_since_last_order"] = since.clip(upper=recency_cap_days).astype("int64")
    out["order_count_365d"] = ids.map(year.size()).fillna(0).astype("int64")
    out["order_value_usd_365d"] = ids.map(year["total_price_usd"].sum()).fillna(0.0).astype(float)
    out["feature_uses_recent"] = ids.map(recent).fillna(0).astype("int64")
    out["usage_trend_log_ratio"] = np.log((out["feature_uses_recent"] + 1) / (ids.map(before).fillna(0) + 1))
    out["account_balance_usd"] = ids.map(balances).astype(float)
    out["scored_date"] = cutoff
    if horizon_days is not None:
        ahead = daily[(daily["event_date"] > at) & (daily["event_date"] <= at + timedelta(days=horizon_days))]
        out["churned"] = ids.isin(ahead.loc[ahead["cancelled"], "customer_id"])
    return out


def _datetimes(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    if pd.api.types.is_datetime64_any_dtype(frame[column]):
        return frame
    return frame.assign(**{column: pd.to_datetime(frame[column])})


def _sum_between(frame: pd.DataFrame, column: str, after: pd.Timestamp, until: pd.Timestamp) -> pd.Series:
    chosen = frame[(frame["event_date"] > after) & (frame["event_date"] <= until)]
    return chosen.groupby("customer_id")[column].sum()


def model_matrix(frame: pd.DataFrame) -> np.ndarray:
    """The model's inputs; order value enters as log(1 + USD), as revenue is heavily skewed."""
    if frame.empty:
        return np.zeros((0, len(FEATURES)))
    matrix = frame[FEATURES].to_numpy(dtype=float)
    matrix[:, FEATURES.index("order_value_usd_365d")] = np.log1p(matrix[:, FEATURES.index("order_value_usd_365d")])
    return matrix


def score_frame(current: pd.DataFrame, probability: np.ndarray, contributions: np.ndarray,
                horizon: int) -> pd.DataFrame:
    """The product: features, probability and the factors that raise each customer's risk most."""
    columns = ["customer_id", "scored_date", "plan", "churn_probability", "churn_horizon_days",
               "days_since_last_order", "order_count_365d", "order_value_usd_365d", "feature_uses_recent",
               "usage_trend_log_ratio", "account_balance_usd"]
    out = current.assign(churn_probability=probability, churn_horizon_days=horizon).reindex(columns=columns)
    order = np.argsort(-contributions, axis=1, kind="stable")
    for rank in range(TOP_FACTORS):
        chosen = order[:, rank] if len(order) else np.zeros(0, dtype=int)
        value = contributions[np.arange(len(chosen)), chosen]
        raises = value > 0  # only factors that push the risk above an average customer's
        out[f"top_factor_{rank + 1}"] = np.where(raises, np.array(FEATURES, dtype=object)[chosen], None)
        out[f"top_factor_{rank + 1}_log_odds"] = np.where(raises, value, np.nan)
    return out.sort_values(["churn_probability", "customer_id"], ascending=[False, True]).reset_index(drop=True)
