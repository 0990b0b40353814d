"""consulting.consultant_profiles: the holistic view of each consultant, one row per consultant and day.

For every consultant employed at the end of the snapshot day: practice, career level and tenure;
the latest assessed level of each skill; the trainings of the trailing year and the skills still in
training (trained after their latest assessment, or never assessed); the certificates held; and the
key skills the latest resume names. Key skills come from a transparent vocabulary
(``SKILL_KEYWORDS``: each skill and the words that name it, matched as whole words, ignoring case),
with the ones the resume claims but no assessment confirms listed apart for the director to verify.
"""

from __future__ import annotations

import re
from datetime import date

import pandas as pd

from assets.consulting import active_consultants, days_until, joined, known_by, latest, moments, snapshot_days
from mesh.partitions import RunWindow

TRAINING_LOOKBACK_DAYS = 365
SKILL_KEYWORDS = {
    "AWS": ["aws", "amazon web services"],
    "Agile Delivery": ["agile", "scrum", "scrummaster", "kanban"],
    "Azure": ["azure"],
    "Business Analysis": ["business analysis", "business analyst", "requirements engineering"],
    "Change Management": ["change management", "organisational change", "organizational change"],
    "Data Modeling": ["data modeling", "data modelling", "dimensional modeling", "dimensional modelling",
                      "data vault"],
    "dbt": ["dbt", "data build tool"],
    "Financial Modeling": ["financial modeling", "financial modelling", "business cases", "valuation models"],
    "GCP": ["gcp", "google cloud"],
    "Identity Management": ["identity and access management", "identity management", "okta"],
    "Incident Response": ["incident response", "incident handler", "digital forensics"],
    "Kubernetes": ["kubernetes", "k8s"],
    "Machine Learning": ["machine learning", "ml models", "scikit-learn", "deep learning"],
    "Network Security": ["network security", "firewalls", "zero trust networking", "cissp"],
    "Project Management": ["project management", "prince2", "pmp"],
    "Python": ["python", "pandas"],
    "SQL": ["sql", "postgresql", "t-sql"],
    "Spark": ["spark", "databricks"],
    "Terraform": ["terraform"],
    "Threat Modeling": ["threat modeling", "threat modelling", "stride"],
}
_PATTERNS = {skill: re.compile(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b", re.IGNORECASE)
             for skill, words in SKILL_KEYWORDS.items()}
ID = "consultant_id"
COLUMNS = ["snapshot_date", ID, "name", "practice", "career_level", "hire_date", "tenure_years", "skills",
           "skill_count", "mean_skill_level", "skills_in_training", "training_count_365_days",
           "training_hours_365_days", "last_training_date", "certifications", "valid_certification_count",
           "next_certification_expiry_date", "resume_key_skills", "resume_skills_unassessed", "resume_updated_date"]


def key_skills(text: str | None) -> list[str]:
    """The skills a text names, in the vocabulary's order."""
    if not isinstance(text, str):
        return []
    return [skill for skill, pattern in _PATTERNS.items() if pattern.search(text)]


def consultant_profiles(consultants: pd.DataFrame, skill_assessments: pd.DataFrame, trainings: pd.DataFrame,
                        certifications: pd.DataFrame, resumes: pd.DataFrame, window: RunWindow) -> pd.DataFrame:
    resumes = resumes.assign(key_skills=resumes["resume_text"].map(key_skills))
    days = snapshot_days(window)
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
    return profiles[COLUMNS].sort_values(ID)


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
