"""consulting.skill_gaps: required versus available skill levels, one row per practice, skill and day.

For each requirement in force at the end of the snapshot day (the latest one per practice and
skill), among the practice's consultants employed that day and their latest assessments:

- ``qualified_consultant_count``: consultants assessed at or above the required level;
- ``best_available_level`` and ``mean_available_level``: the highest and the mean assessed level;
- ``level_gap``: how far the best is below the requirement (0 when someone meets it);
- ``headcount_gap``: qualified consultants missing to reach the headcount needed;
- ``in_development_count``: consultants below the level who trained in the skill within the last
  ``params["development_window_days"]`` days: the gap the practice is already closing.

Every day of the run at once: the requirements, staff records and assessments as day ranges
(``versions``), joined with the run's days in DuckDB.
"""

from __future__ import annotations

import pandas as pd

from assets.consulting import day_table, in_force, python_dates, query, staff_spells, versions
from mesh.partitions import RunWindow

KEY = ["practice", "skill"]
COLUMNS = ["snapshot_date", "practice", "skill", "required_level", "headcount_needed", "practice_headcount",
           "assessed_consultant_count", "qualified_consultant_count", "best_available_level",
           "mean_available_level", "level_gap", "headcount_gap", "in_development_count", "is_gap"]

# Every consultant of the practice against every requirement of it; no assessment: level 0. A
# training counts from the day it is recorded until `development_days` after its completion: from each
# day a consultant's training in a skill is recorded, they develop it until the latest such end.
GAPS = """
WITH development AS (
    SELECT consultant_id, skill, recorded_date AS valid_from,
           lead(recorded_date) OVER recorded AS valid_until,
           max(completed_date + {development_days}) OVER (recorded ROWS UNBOUNDED PRECEDING) AS developing_until
    FROM (SELECT consultant_id, skill, recorded_date, max(completed_date) AS completed_date
          FROM trainings WHERE recorded_date IS NOT NULL GROUP BY consultant_id, skill, recorded_date)
    WINDOW recorded AS (PARTITION BY consultant_id, skill ORDER BY recorded_date)),
requirements AS (
    SELECT d.day, r.practice, r.skill, r.required_level, r.headcount_needed
    FROM days d JOIN requirements r ON {requirement_in_force}),
staff AS (
    SELECT d.day, s.consultant_id, s.practice
    FROM days d JOIN staff s ON {employed}),
candidates AS (
    SELECT r.day, r.practice, r.skill, r.required_level, s.consultant_id,
           coalesce(l.skill_level, 0) AS skill_level, coalesce(r.day < t.developing_until, false) AS has_trained
    FROM requirements r
    JOIN staff s ON s.day = r.day AND s.practice = r.practice
    LEFT JOIN levels l ON l.consultant_id = s.consultant_id AND l.skill = r.skill AND {level_in_force}
    LEFT JOIN development t ON t.consultant_id = s.consultant_id AND t.skill = r.skill AND {trained_in_force}),
judged AS (
    SELECT *, skill_level >= required_level AS is_qualified,
           skill_level < required_level AND has_trained AS is_developing
    FROM candidates),
counted AS (
    SELECT day, practice, skill, count(*) AS practice_headcount,
           count(*) FILTER (WHERE skill_level > 0) AS assessed_consultant_count,
           count(*) FILTER (WHERE is_qualified) AS qualified_consultant_count,
           max(skill_level) AS best_available_level,
           avg(skill_level) FILTER (WHERE skill_level > 0) AS mean_available_level,
           count(*) FILTER (WHERE is_developing) AS in_development_count
    FROM judged GROUP BY day, practice, skill)
SELECT r.day AS snapshot_date, r.practice, r.skill, r.required_level, r.headcount_needed,
       coalesce(c.practice_headcount, 0) AS practice_headcount,
       coalesce(c.assessed_consultant_count, 0) AS assessed_consultant_count,
       coalesce(c.qualified_consultant_count, 0) AS qualified_consultant_count,
       coalesce(c.best_available_level, 0) AS best_available_level,
       c.mean_available_level,
       coalesce(c.in_development_count, 0) AS in_development_count
FROM requirements r LEFT JOIN counted c USING (day, practice, skill)
ORDER BY snapshot_date, r.practice, r.skill
"""


def skill_gaps(consultants: pd.DataFrame, skill_assessments: pd.DataFrame, trainings: pd.DataFrame,
               practice_requirements: pd.DataFrame, window: RunWindow, params: dict) -> pd.DataFrame:
    development_days = int(params["development_window_days"])
    sql = GAPS.format(requirement_in_force=in_force("r"), employed=in_force("s", until="employed_until"),
                      level_in_force=in_force("l", "r.day"), trained_in_force=in_force("t", "r.day"),
                      development_days=development_days)
    gaps = query(
        sql, days=day_table(window),
        requirements=versions(practice_requirements, KEY, ["effective_date"], known="effective_date"),
        staff=staff_spells(consultants)[["consultant_id", "practice", "valid_from", "employed_until"]],
        levels=versions(skill_assessments, ["consultant_id", "skill"], ["assessed_date", "recorded_date"]),
        trainings=trainings[["consultant_id", "skill", "completed_date", "recorded_date"]])
    gaps["level_gap"] = (gaps["required_level"] - gaps["best_available_level"]).clip(lower=0)
    gaps["headcount_gap"] = (gaps["headcount_needed"] - gaps["qualified_consultant_count"]).clip(lower=0)
    gaps["is_gap"] = gaps["headcount_gap"] > 0
    return gaps.assign(snapshot_date=python_dates(gaps["snapshot_date"]))[COLUMNS]
