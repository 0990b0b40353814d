"""consulting.certification_compliance: the status of every certificate held, one row per certificate and day.

A consultant's certificate of a kind is the latest one issued (a renewal replaces it). Its status at
the end of the snapshot day, from the days left until it expires: ``expired`` (below 0),
``expiring_30_days`` (0-30), ``expiring_60_days`` (31-60), ``expiring_90_days`` (61-90) or ``valid``.
Certificates of consultants who have left are no longer the firm's concern; those of consultants the
HR master does not know (yet) are kept, without a practice. Certificates that expired more than
``params["expired_shown_days"]`` ago are considered lapsed for good and leave the list.

Every day of the run at once: certificates and consultant records as day ranges (``versions``),
joined with the run's days in DuckDB.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assets.consulting import day_table, in_force, python_dates, query, versions
from mesh.partitions import RunWindow

ID = "consultant_id"
STATUSES = ["expired", "expiring_30_days", "expiring_60_days", "expiring_90_days", "valid"]  # most urgent first
COLUMNS = ["snapshot_date", "certification_id", ID, "practice", "certification", "vendor", "issued_date",
           "expiry_date", "days_to_expiry", "status"]

# The practice is the holder's latest record's, leaver or not; a leaver's certificates go from the
# end of the leave day.
COMPLIANCE = """
SELECT d.day AS snapshot_date, c.certification_id, c.consultant_id, p.practice, c.certification, c.vendor,
       c.issued_date, c.expiry_date, c.expiry_date - d.day AS days_to_expiry
FROM days d
JOIN held c ON {held} AND d.day <= c.expiry_date + {shown_days}
LEFT JOIN people p ON p.consultant_id = c.consultant_id AND {known}
WHERE p.leave_date IS NULL OR d.day < p.leave_date
ORDER BY snapshot_date, c.certification_id
"""


def status_of(days_to_expiry: pd.Series) -> pd.Series:
    """The compliance status for a number of days left until expiry."""
    conditions = [days_to_expiry < 0, days_to_expiry <= 30, days_to_expiry <= 60, days_to_expiry <= 90]
    return pd.Series(np.select(conditions, STATUSES[:4], default="valid"), index=days_to_expiry.index)


def certification_compliance(consultants: pd.DataFrame, certifications: pd.DataFrame, window: RunWindow,
                             params: dict) -> pd.DataFrame:
    sql = COMPLIANCE.format(held=in_force("c"), known=in_force("p"), shown_days=int(params["expired_shown_days"]))
    current = query(sql, days=day_table(window),
                    held=versions(certifications, [ID, "certification"], ["issued_date", "certification_id"]),
                    people=versions(consultants, [ID], ["recorded_date"]))
    return current.assign(snapshot_date=python_dates(current["snapshot_date"]),
                          status=status_of(current["days_to_expiry"]))[COLUMNS]
