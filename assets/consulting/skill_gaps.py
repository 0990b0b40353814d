"""consulting.skill_gaps: required versus available skill levels, one row per practice, skill and day.

For each requirement in force at the end of the snapshot day (the latest one per practice and
skill), among the practice's consultants employed that day and their latest assessments:

- ``qualified_consultant_count``: consultants assessed at or above the required level;
- ``best_available_level`` and ``mean_available_level``: the highest and the mean assessed level;
- ``level_gap``: how far the best is below the requirement (0 when someone meets it);
- ``headcount_gap``: qualified consultants missing to reach the headcount needed;
- ``in_development_count``: consultants below the level who trained in the skill within the last
  ``params["development_window_days"]`` days: the gap the practice is already closing.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from assets.consulting import active_consultants, days_until, known_by, latest, snapshot_days
from mesh.partitions import RunWindow

KEY = ["practice", "skill"]
COLUMNS = ["snapshot_date", "practice", "skill", "required_level", "headcount_needed", "practice_headcount",
           "assessed_consultant_count", "qualified_consultant_count", "best_available_level",
           "mean_available_level", "level_gap", "headcount_gap", "in_development_count", "is_gap"]


def skill_gaps(consultants: pd.DataFrame, skill_assessments: pd.DataFrame, trainings: pd.DataFrame,
               practice_requirements: pd.DataFrame, window: RunWindow, params: dict) -> pd.DataFrame:
    development_days = int(params["development_window_days"])
    return pd.concat([gaps_on(day, consultants, skill_assessments, trainings, practice_requirements, development_days)
                      for day in snapshot_days(window)], ignore_index=True)


def gaps_on(day: date, consultants: pd.DataFrame, assessments: pd.DataFrame, trainings: pd.DataFrame,
            requirements: pd.DataFrame, development_days: int) -> pd.DataFrame:
    staff = active_consultants(consultants, day)[["consultant_id", "practice"]]
    in_force = latest(known_by(requirements, day, "effective_date"), KEY, ["effective_date"])
    levels = latest(known_by(assessments, day), ["consultant_id", "skill"], ["assessed_date", "recorded_date"])
    # every consultant of the practice against every requirement of it; no assessment: level 0
    candidates = in_force.merge(staff, on="practice").merge(
        levels[["consultant_id", "skill", "skill_level"]], how="left", on=["consultant_id", "skill"])
    candidates["skill_level"] = candidates["skill_level"].fillna(0).astype("int64")
    trained = known_by(trainings, day)
    trained = trained[days_until(trained["completed_date"], day) > -development_days][["consultant_id", "skill"]]
    candidates["is_qualified"] = candidates["skill_level"] >= candidates["required_level"]
    candidates["is_developing"] = ~candidates["is_qualified"] & pd.MultiIndex.from_frame(
        candidates[["consultant_id", "skill"]]).isin(pd.MultiIndex.from_frame(trained))
    assessed = candidates[candidates["skill_level"] > 0]
    gaps = in_force.set_index(KEY)[["required_level", "headcount_needed"]].join([
        candidates.groupby(KEY).agg(practice_headcount=("consultant_id", "size"),
                                    qualified_consultant_count=("is_qualified", "sum"),
                                    best_available_level=("skill_level", "max"),
                                    in_development_count=("is_developing", "sum")),
        assessed.groupby(KEY).agg(assessed_consultant_count=("consultant_id", "size"),
                                  mean_available_level=("skill_level", "mean")),
    ])
    counts = ["practice_headcount", "qualified_consultant_count", "best_available_level", "in_development_count",
              "assessed_consultant_count"]
    gaps[counts] = gaps[counts].fillna(0).astype("int64")
    gaps["level_gap"] = (gaps["required_level"] - gaps["best_available_level"]).clip(lower=0)
    gaps["headcount_gap"] = (gaps["headcount_needed"] - gaps["qualified_consultant_count"]).clip(lower=0)
    gaps["is_gap"] = gaps["headcount_gap"] > 0
    return gaps.reset_index().assign(snapshot_date=day)[COLUMNS].sort_values(KEY)
