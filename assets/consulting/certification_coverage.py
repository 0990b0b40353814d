"""consulting.certification_coverage: how well each practice is certified, one row per practice and day.

A consultant counts as certified while holding at least one certificate that has not expired
(including those about to). Built on the day's ``certification_compliance`` partition and the
staff employed at the end of the day.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from assets.consulting import active_consultants, moments, snapshot_days
from mesh.partitions import RunWindow

EXPIRING = ["expiring_30_days", "expiring_60_days", "expiring_90_days"]
COLUMNS = ["snapshot_date", "practice", "consultant_count", "certified_consultant_count", "coverage_rate",
           "expiring_90_days_count", "expired_count"]


def certification_coverage(consultants: pd.DataFrame, certification_compliance: pd.DataFrame,
                           window: RunWindow) -> pd.DataFrame:
    days = snapshot_days(window)
    return pd.concat([coverage_on(day, consultants, certification_compliance) for day in days], ignore_index=True)


def coverage_on(day: date, consultants: pd.DataFrame, compliance: pd.DataFrame) -> pd.DataFrame:
    staff = active_consultants(consultants, day)[["consultant_id", "practice"]]
    today = compliance[moments(compliance["snapshot_date"]) == pd.Timestamp(day)]
    today = today.merge(staff, on=["consultant_id", "practice"])  # the practices' current staff only
    certified = today[today["status"] != "expired"].groupby("practice")["consultant_id"].nunique()
    coverage = staff.groupby("practice").agg(consultant_count=("consultant_id", "size")).assign(
        certified_consultant_count=certified,
        expiring_90_days_count=today[today["status"].isin(EXPIRING)].groupby("practice").size(),
        expired_count=today[today["status"] == "expired"].groupby("practice").size(),
    )
    counts = ["certified_consultant_count", "expiring_90_days_count", "expired_count"]
    coverage[counts] = coverage[counts].fillna(0).astype("int64")
    coverage["coverage_rate"] = coverage["certified_consultant_count"] / coverage["consultant_count"]
    return coverage.reset_index().assign(snapshot_date=day)[COLUMNS]
