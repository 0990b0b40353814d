"""consulting.certification_coverage: how well each practice is certified, one row per practice and day.

A consultant counts as certified while holding at least one certificate that has not expired
(including those about to). Built on the day's ``certification_compliance`` partition and the
staff employed at the end of the day, every day of the run at once (in DuckDB).
"""

from __future__ import annotations

import pandas as pd

from assets.consulting import day_table, in_force, python_dates, query, staff_spells
from mesh.partitions import RunWindow

EXPIRING = ["expiring_30_days", "expiring_60_days", "expiring_90_days"]
COLUMNS = ["snapshot_date", "practice", "consultant_count", "certified_consultant_count", "coverage_rate",
           "expiring_90_days_count", "expired_count"]

# Certificates count for the practices' current staff only; a status other than 'expired' (or none)
# certifies. Staff without a practice count for none.
COVERAGE = """
WITH staff AS (
    SELECT d.day, s.consultant_id, s.practice FROM days d JOIN staff s ON {employed}),
held AS (
    SELECT c.snapshot_date AS day, c.consultant_id, c.practice, c.status
    FROM compliance c JOIN staff s ON s.day = c.snapshot_date AND s.consultant_id = c.consultant_id
                                   AND s.practice = c.practice),
certificates AS (
    SELECT day, practice,
           count(DISTINCT consultant_id) FILTER (WHERE status IS DISTINCT FROM 'expired') AS certified_consultant_count,
           count(*) FILTER (WHERE status IN ({expiring})) AS expiring_90_days_count,
           count(*) FILTER (WHERE status = 'expired') AS expired_count
    FROM held GROUP BY day, practice)
SELECT s.day AS snapshot_date, s.practice, count(*) AS consultant_count,
       coalesce(any_value(c.certified_consultant_count), 0) AS certified_consultant_count,
       coalesce(any_value(c.expiring_90_days_count), 0) AS expiring_90_days_count,
       coalesce(any_value(c.expired_count), 0) AS expired_count
FROM staff s LEFT JOIN certificates c USING (day, practice)
WHERE s.practice IS NOT NULL
GROUP BY s.day, s.practice
ORDER BY snapshot_date, s.practice
"""


def certification_coverage(consultants: pd.DataFrame, certification_compliance: pd.DataFrame,
                           window: RunWindow) -> pd.DataFrame:
    sql = COVERAGE.format(employed=in_force("s", until="employed_until"),
                          expiring=", ".join(f"'{status}'" for status in EXPIRING))
    compliance = certification_compliance[["snapshot_date", "consultant_id", "practice", "status"]]
    coverage = query(sql, days=day_table(window), compliance=compliance,
                     staff=staff_spells(consultants)[["consultant_id", "practice", "valid_from", "employed_until"]])
    coverage["coverage_rate"] = coverage["certified_consultant_count"] / coverage["consultant_count"]
    return coverage.assign(snapshot_date=python_dates(coverage["snapshot_date"]))[COLUMNS]
