"""consulting.certification_compliance: the status of every certificate held, one row per certificate and day.

A consultant's certificate of a kind is the latest one issued (a renewal replaces it). Its status at
the end of the snapshot day, from the days left until it expires: ``expired`` (below 0),
``expiring_30_days`` (0-30), ``expiring_60_days`` (31-60), ``expiring_90_days`` (61-90) or ``valid``.
Certificates of consultants who have left are no longer the firm's concern; those of consultants the
HR master does not know (yet) are kept, without a practice. Certificates that expired more than
``params["expired_shown_days"]`` ago are considered lapsed for good and leave the list.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from assets.consulting import days_until, known_by, latest, on_or_before, snapshot_days
from mesh.partitions import RunWindow

ID = "consultant_id"
STATUSES = ["expired", "expiring_30_days", "expiring_60_days", "expiring_90_days", "valid"]  # most urgent first
COLUMNS = ["snapshot_date", "certification_id", ID, "practice", "certification", "vendor", "issued_date",
           "expiry_date", "days_to_expiry", "status"]


def status_of(days_to_expiry: pd.Series) -> pd.Series:
    """The compliance status for a number of days left until expiry."""
    conditions = [days_to_expiry < 0, days_to_expiry <= 30, days_to_expiry <= 60, days_to_expiry <= 90]
    return pd.Series(np.select(conditions, STATUSES[:4], default="valid"), index=days_to_expiry.index)


def certification_compliance(consultants: pd.DataFrame, certifications: pd.DataFrame, window: RunWindow,
                             params: dict) -> pd.DataFrame:
    shown_days = int(params["expired_shown_days"])
    return pd.concat([compliance_on(day, consultants, certifications, shown_days) for day in snapshot_days(window)],
                     ignore_index=True)


def compliance_on(day: date, consultants: pd.DataFrame, certifications: pd.DataFrame,
                  expired_shown_days: int) -> pd.DataFrame:
    held = latest(known_by(certifications, day), [ID, "certification"], ["issued_date", "certification_id"])
    people = latest(known_by(consultants, day), [ID], ["recorded_date"])
    has_left = people.loc[on_or_before(people["leave_date"], day), ID]
    practice = people.set_index(ID)["practice"]
    held = held[~held[ID].isin(has_left)]
    days_left = days_until(held["expiry_date"], day).astype("int64")
    current = held.assign(snapshot_date=day, practice=held[ID].map(practice), days_to_expiry=days_left,
                          status=status_of(days_left))
    return current[days_left >= -expired_shown_days][COLUMNS].sort_values(["certification_id"])
