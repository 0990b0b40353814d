"""product_usage.events: the product's CloudEvents, renamed to the mesh's conventions.

The event type loses the product's namespace (``com.mesh.product.feature_used`` becomes
``feature_used``); a type from another namespace keeps its full name, so the quarantine shows it.
Times stay in UTC. Nothing is dropped here: duplicates, missing ids and unknown types are the
schema's to quarantine, with their reason.
"""

import pandas as pd

TYPE_PREFIX = "com.mesh.product."


def events(events: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": events["event_id"],
            "event_type": events["event_type"].str.removeprefix(TYPE_PREFIX),
            "event_source": events["event_source"],
            "spec_version": events["spec_version"],
            "event_time": pd.to_datetime(events["event_time"], utc=True),
            "event_date": events["event_day"],
            "customer_id": events["customer_id"],
            "user_email": events["user_email"],
            "feature": events["feature"],
            "duration_seconds": events["duration_seconds"],
            "plan": events["plan"],
            "monthly_price_usd": events["monthly_price_usd"],
            "cancel_reason": events["cancel_reason"],
        }
    )
