"""Hand-built frames for the product_usage tests, typed as the products read them."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa

from mesh.contracts.partitions import RunWindow
from mesh.contracts.registry import load_mesh

DATE = pd.ArrowDtype(pa.date32())
EVENT_COLUMNS = ["event_id", "event_type", "event_source", "spec_version", "event_time", "event_date", "customer_id",
                 "user_email", "feature", "duration_seconds", "plan", "monthly_price_usd", "cancel_reason"]


def dates(*days: str | None) -> pd.Series:
    return pd.Series([dt.date.fromisoformat(d) if d else None for d in days], dtype=DATE)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def window(first: str, last: str | None = None, domain: str = "product_usage") -> RunWindow:
    return RunWindow.of_keys(load_mesh().domains[domain], first, last or first)


def events(*rows: tuple) -> pd.DataFrame:
    """(day, customer, user, type[, feature or plan]) -> a product_usage.events frame.

    ``feature_used`` rows name a feature (plan team); other rows may name a plan. Ids are e1, e2, ...
    """
    records = []
    for number, (when, customer, user, kind, *extra) in enumerate(rows, start=1):
        feature = extra[0] if kind == "feature_used" else None
        plan = "team" if kind == "feature_used" else (extra[0] if extra else None)
        records.append({
            "event_id": f"e{number}", "event_type": kind, "event_source": "/product/web", "spec_version": "1.0",
            "event_time": pd.Timestamp(f"{when}T12:00:00Z"), "event_date": day(when), "customer_id": customer,
            "user_email": f"user{user}@customer{customer}.example.com", "feature": feature,
            "duration_seconds": 60.0 if feature else None, "plan": plan,
            "monthly_price_usd": 29.0 if kind in ("subscription_upgraded", "subscription_cancelled") else None,
            "cancel_reason": "price" if kind == "subscription_cancelled" else None,
        })
    frame = pd.DataFrame(records, columns=EVENT_COLUMNS)
    frame["event_date"] = frame["event_date"].astype(DATE)
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True)
    return frame
