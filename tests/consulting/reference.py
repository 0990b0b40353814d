"""The reference: the consulting snapshots as first written, one day at a time (one pass over the
history per day, too slow for a run over years). The products now compute every day of a run at
once; test_set_based_equivalence.py holds them to this code, which states the semantics plainly.
Kept as it was (the helpers of assets/consulting/__init__.py included), only taking a list of days
instead of a run window; do not optimise it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pandas as pd
import pyarrow as pa

from assets.consulting.certification_compliance import status_of
from assets.consulting.consultant_profiles import TRAINING_LOOKBACK_DAYS, key_skills

ID = "consultant_id"


# -- the one-day helpers ----------------------------------------------------------------------------
def moments(dates: pd.Series) -> pd.Series:
    if isinstance(dates.dtype, pd.ArrowDtype):
        dates = dates.astype(pd.ArrowDtype(pa.timestamp("us")))
    return dates.astype("datetime64[us]")


def on_or_before(dates: pd.Series, day: date) -> pd.Series:
    return moments(dates) <= pd.Timestamp(day)


def days_until(dates: pd.Series, day: date) -> pd.Series:
    return (moments(dates) - pd.Timestamp(day)).dt.days


def known_by(frame: pd.DataFrame, day: date, column: str = "recorded_date") -> pd.DataFrame:
    return frame[on_or_before(frame[column], day)]


def latest(frame: pd.DataFrame, keys: list[str], order: list[str]) -> pd.DataFrame:
    return frame.sort_values([*keys, *order]).drop_duplicates(keys, keep="last")


def active_consultants(consultants: pd.DataFrame, day: date) -> pd.DataFrame:
    current = latest(known_by(consultants, day), ["consultant_id"], ["recorded_date"])
    has_left = on_or_before(current["leave_date"], day)
    return current[~has_left]


def joined(names: Iterable[str], separator: str = ", ") -> str | None:
    text = separator.join(names)
    return text or None


# -- consulting.consultant_profiles -----------------------------------------------------------------
PROFILE_COLUMNS = ["snapshot_date", ID, "name", "practice", "career_level", "hire_date", "tenure_years", "skills",
                   "skill_count", "mean_skill_level", "skills_in_training", "training_count_365_days",
                   "training_hours_365_days", "last_training_date", "certifications", "valid_certification_count",
                   "next_certification_expiry_date", "resume_key_skills", "resume_skills_unassessed",
                   "resume_updated_date"]


def reference_profiles(consultants: pd.DataFrame, skill_assessments: pd.DataFrame, trainings: pd.DataFrame,
                       certifications: pd.DataFrame, resumes: pd.DataFrame, days: list[date]) -> pd.DataFrame:
    resumes = resumes.assign(key_skills=resumes["resume_text"].map(key_skills))
    return pd.concat([profiles_on(day, consultants, skill_assessments, trainings, certifications, resumes)
                      for day in days], ignore_index=True)


def profiles_on(day: date, consultants: pd.DataFrame, assessments: pd.DataFrame, trainings: pd.DataFrame,
                certifications: pd.DataFrame, resumes: pd.DataFrame) -> pd.DataFrame:
    """The profiles at the end of one day; ``resumes`` carries each version's ``key_skills``."""
    staff = active_consultants(consultants, day)
    levels = latest(known_by(assessments, day), [ID, "skill"], ["assessed_date", "recorded_date"])
    levels = levels[levels[ID].isin(staff[ID])]
    profiles = staff.assign(snapshot_date=day, tenure_years=(-days_until(staff["hire_date"], day) / 365.25).round(1))
    parts = [_skills(levels),
             _trainings(known_by(trainings, day), levels, day),
             _certificates(known_by(certifications, day), day),
             _resume(known_by(resumes, day, "updated_date"), levels)]
    for part in parts:
        profiles = profiles.merge(part, how="left", left_on=ID, right_index=True)
    for count in ("skill_count", "training_count_365_days", "valid_certification_count"):
        profiles[count] = profiles[count].fillna(0).astype("int64")
    profiles["training_hours_365_days"] = profiles["training_hours_365_days"].fillna(0.0)
    return profiles[PROFILE_COLUMNS].sort_values(ID)


def _skills(levels: pd.DataFrame) -> pd.DataFrame:
    """'AWS 4, Terraform 3': the latest level of each skill, strongest first."""
    ordered = levels.sort_values([ID, "skill_level", "skill"], ascending=[True, False, True])
    labelled = ordered.assign(label=ordered["skill"] + " " + ordered["skill_level"].astype(str))
    return labelled.groupby(ID).agg(skills=("label", joined), skill_count=("skill", "size"),
                                    mean_skill_level=("skill_level", "mean"))


def _trainings(known: pd.DataFrame, levels: pd.DataFrame, day: date) -> pd.DataFrame:
    """Trainings of the trailing year; a skill is in training when trained after its latest assessment."""
    recent = known[days_until(known["completed_date"], day) > -TRAINING_LOOKBACK_DAYS]
    assessed = recent.merge(levels[[ID, "skill", "assessed_date"]], how="left", on=[ID, "skill"])
    in_training = assessed["assessed_date"].isna() | (moments(assessed["completed_date"])
                                                      > moments(assessed["assessed_date"]))
    per_consultant = recent.groupby(ID).agg(training_count_365_days=("course", "size"),
                                            training_hours_365_days=("hours", "sum"))
    pending = assessed[in_training].groupby(ID)["skill"].agg(lambda s: joined(sorted(set(s))))
    last = known.groupby(ID)["completed_date"].max().rename("last_training_date")
    return per_consultant.join(pending.rename("skills_in_training"), how="outer").join(last, how="outer")


def _certificates(known: pd.DataFrame, day: date) -> pd.DataFrame:
    """The certificates valid at the end of the day (the latest of each kind), and the next to expire."""
    held = latest(known, [ID, "certification"], ["issued_date", "certification_id"])
    valid = held[days_until(held["expiry_date"], day) >= 0].sort_values([ID, "certification"])
    return valid.groupby(ID).agg(certifications=("certification", lambda c: joined(c, "; ")),
                                 valid_certification_count=("certification", "size"),
                                 next_certification_expiry_date=("expiry_date", "min"))


def _resume(known: pd.DataFrame, levels: pd.DataFrame) -> pd.DataFrame:
    """Key skills of the latest resume, and those of them that have no assessment."""
    current = latest(known, [ID], ["updated_date"]).set_index(ID)
    assessed = levels.groupby(ID)["skill"].agg(set)
    unassessed = [joined(s for s in skills if s not in assessed.get(consultant, set()))
                  for consultant, skills in current["key_skills"].items()]
    return pd.DataFrame({"resume_key_skills": current["key_skills"].map(joined),
                         "resume_skills_unassessed": unassessed,
                         "resume_updated_date": current["updated_date"]}, index=current.index)


# -- consulting.skill_gaps --------------------------------------------------------------------------
KEY = ["practice", "skill"]
GAP_COLUMNS = ["snapshot_date", "practice", "skill", "required_level", "headcount_needed", "practice_headcount",
               "assessed_consultant_count", "qualified_consultant_count", "best_available_level",
               "mean_available_level", "level_gap", "headcount_gap", "in_development_count", "is_gap"]


def reference_gaps(consultants: pd.DataFrame, skill_assessments: pd.DataFrame, trainings: pd.DataFrame,
                   practice_requirements: pd.DataFrame, days: list[date], params: dict) -> pd.DataFrame:
    development_days = int(params["development_window_days"])
    return pd.concat([gaps_on(day, consultants, skill_assessments, trainings, practice_requirements, development_days)
                      for day in days], ignore_index=True)


def gaps_on(day: date, consultants: pd.DataFrame, assessments: pd.DataFrame, trainings: pd.DataFrame,
            requirements: pd.DataFrame, development_days: int) -> pd.DataFrame:
    staff = active_consultants(consultants, day)[["consultant_id", "practice"]]
    in_force = latest(known_by(requirements, day, "effective_date"), KEY, ["effective_date"])
    levels = latest(known_by(assessments, day), ["consultant_id", "skill"], ["assessed_date", "recorded_date"])
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
    return gaps.reset_index().assign(snapshot_date=day)[GAP_COLUMNS].sort_values(KEY)


# -- consulting.certification_compliance ------------------------------------------------------------
COMPLIANCE_COLUMNS = ["snapshot_date", "certification_id", ID, "practice", "certification", "vendor", "issued_date",
                      "expiry_date", "days_to_expiry", "status"]


def reference_compliance(consultants: pd.DataFrame, certifications: pd.DataFrame, days: list[date],
                         params: dict) -> pd.DataFrame:
    shown_days = int(params["expired_shown_days"])
    return pd.concat([compliance_on(day, consultants, certifications, shown_days) for day in days],
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
    return current[days_left >= -expired_shown_days][COMPLIANCE_COLUMNS].sort_values(["certification_id"])


# -- consulting.certification_coverage --------------------------------------------------------------
EXPIRING = ["expiring_30_days", "expiring_60_days", "expiring_90_days"]
COVERAGE_COLUMNS = ["snapshot_date", "practice", "consultant_count", "certified_consultant_count", "coverage_rate",
                    "expiring_90_days_count", "expired_count"]


def reference_coverage(consultants: pd.DataFrame, certification_compliance: pd.DataFrame,
                       days: list[date]) -> pd.DataFrame:
    return pd.concat([coverage_on(day, consultants, certification_compliance) for day in days], ignore_index=True)


def coverage_on(day: date, consultants: pd.DataFrame, compliance: pd.DataFrame) -> pd.DataFrame:
    staff = active_consultants(consultants, day)[["consultant_id", "practice"]]
    today = compliance[moments(compliance["snapshot_date"]) == pd.Timestamp(day)]
    today = today.merge(staff, on=["consultant_id", "practice"])
    certified = today[today["status"] != "expired"].groupby("practice")["consultant_id"].nunique()
    coverage = staff.groupby("practice").agg(consultant_count=("consultant_id", "size")).assign(
        certified_consultant_count=certified,
        expiring_90_days_count=today[today["status"].isin(EXPIRING)].groupby("practice").size(),
        expired_count=today[today["status"] == "expired"].groupby("practice").size(),
    )
    counts = ["certified_consultant_count", "expiring_90_days_count", "expired_count"]
    coverage[counts] = coverage[counts].fillna(0).astype("int64")
    coverage["coverage_rate"] = coverage["certified_consultant_count"] / coverage["consultant_count"]
    return coverage.reset_index().assign(snapshot_date=day)[COVERAGE_COLUMNS]
