"""consulting.consultant_profiles: the holistic view of each consultant, one row per consultant and day.

For every consultant employed at the end of the snapshot day: practice, career level and tenure;
the latest assessed level of each skill; the trainings of the trailing year and the skills still in
training (trained after their latest assessment, or never assessed); the certificates held; and the
key skills the latest resume names. Key skills come from a transparent vocabulary
(``SKILL_KEYWORDS``: each skill and the words that name it, matched as whole words, ignoring case),
with the ones the resume claims but no assessment confirms listed apart for the director to verify.

Every day of the run at once: apart from tenure, a profile changes only on the days something about
the consultant does (a record of theirs becomes known, they leave, a training leaves the trailing
year, a certificate expires). The profile is computed once per such day, in DuckDB over the records
as day ranges (``versions``), and holds until the next.
"""

from __future__ import annotations

import re

import pandas as pd

from assets.consulting import day_table, in_force, joined, python_dates, query, staff_spells, versions
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

# A segment: from a day the consultant's profile may change (`changes`) until the next such day.
# Each part is computed on the segment's first day `since`; the whole profile then holds for each
# day `d.day` of the segment the consultant is employed (and the run covers).
PROFILES = """
WITH changes AS (
    SELECT consultant_id, recorded_date AS day FROM consultants
    UNION SELECT consultant_id, leave_date FROM consultants
    UNION SELECT consultant_id, recorded_date FROM assessments
    UNION SELECT consultant_id, recorded_date FROM trainings
    UNION SELECT consultant_id, completed_date + {lookback_days} FROM trainings
    UNION SELECT consultant_id, recorded_date FROM certifications
    UNION SELECT consultant_id, expiry_date + 1 FROM certifications
    UNION SELECT consultant_id, updated_date FROM resumes),
segments AS (
    SELECT g.consultant_id, g.since, g.valid_until, s.name, s.practice, s.career_level, s.hire_date
    FROM (SELECT consultant_id, day AS since, lead(day) OVER (PARTITION BY consultant_id ORDER BY day) AS valid_until
          FROM changes WHERE day IS NOT NULL) g
    JOIN staff s ON s.consultant_id = g.consultant_id AND {employed}
    WHERE g.since <= (SELECT max(day) FROM days)
      AND coalesce(g.valid_until, DATE '9999-12-31') > (SELECT min(day) FROM days)),
levels AS (
    SELECT g.consultant_id, g.since, l.skill, l.skill_level, l.assessed_date
    FROM segments g JOIN levels l ON l.consultant_id = g.consultant_id AND {level}),
skills AS (
    SELECT consultant_id, since,
           string_agg(skill || ' ' || skill_level, ', ' ORDER BY skill_level DESC, skill) AS skills,
           count(*) AS skill_count, avg(skill_level) AS mean_skill_level
    FROM levels GROUP BY consultant_id, since),
known_trainings AS (
    SELECT g.consultant_id, g.since, t.skill, t.hours, t.completed_date,
           g.since < t.completed_date + {lookback_days} AS is_recent,
           l.skill IS NULL OR l.assessed_date IS NULL OR t.completed_date > l.assessed_date AS is_pending
    FROM segments g JOIN trainings t ON t.consultant_id = g.consultant_id AND t.recorded_date <= g.since
    LEFT JOIN levels l ON l.consultant_id = g.consultant_id AND l.since = g.since AND l.skill = t.skill),
training AS (
    SELECT consultant_id, since,
           string_agg(DISTINCT skill, ', ' ORDER BY skill) FILTER (WHERE is_recent AND is_pending)
               AS skills_in_training,
           count(*) FILTER (WHERE is_recent) AS training_count_365_days,
           coalesce(fsum(hours) FILTER (WHERE is_recent), 0) AS training_hours_365_days,
           max(completed_date) AS last_training_date
    FROM known_trainings GROUP BY consultant_id, since),
certificates AS (
    SELECT g.consultant_id, g.since, string_agg(c.certification, '; ' ORDER BY c.certification) AS certifications,
           count(*) AS valid_certification_count, min(c.expiry_date) AS next_certification_expiry_date
    FROM segments g JOIN certificates c ON c.consultant_id = g.consultant_id AND {certificate}
    WHERE g.since <= c.expiry_date
    GROUP BY g.consultant_id, g.since),
resume AS (
    SELECT g.consultant_id, g.since, any_value(r.resume_key_skills) AS resume_key_skills,
           string_agg(k.skill, ', ' ORDER BY k.position) FILTER (WHERE k.skill IS NOT NULL AND l.skill IS NULL)
               AS resume_skills_unassessed,
           any_value(r.updated_date) AS resume_updated_date
    FROM segments g JOIN resumes r ON r.consultant_id = g.consultant_id AND {resume}
    LEFT JOIN resume_skills k ON k.resume = r.resume
    LEFT JOIN levels l ON l.consultant_id = g.consultant_id AND l.since = g.since AND l.skill = k.skill
    GROUP BY g.consultant_id, g.since)
SELECT d.day AS snapshot_date, g.consultant_id, g.name, g.practice, g.career_level, g.hire_date,
       d.day - g.hire_date AS tenure_days, s.skills, coalesce(s.skill_count, 0) AS skill_count, s.mean_skill_level,
       t.skills_in_training, coalesce(t.training_count_365_days, 0) AS training_count_365_days,
       coalesce(t.training_hours_365_days, 0) AS training_hours_365_days, t.last_training_date,
       c.certifications, coalesce(c.valid_certification_count, 0) AS valid_certification_count,
       c.next_certification_expiry_date, r.resume_key_skills, r.resume_skills_unassessed, r.resume_updated_date
FROM segments g
JOIN days d ON g.since <= d.day AND d.day < coalesce(g.valid_until, DATE '9999-12-31')
LEFT JOIN skills s USING (consultant_id, since)
LEFT JOIN training t USING (consultant_id, since)
LEFT JOIN certificates c USING (consultant_id, since)
LEFT JOIN resume r USING (consultant_id, since)
ORDER BY snapshot_date, g.consultant_id
"""


def key_skills(text: str | None) -> list[str]:
    """The skills a text names, in the vocabulary's order."""
    if not isinstance(text, str):
        return []
    return [skill for skill, pattern in _PATTERNS.items() if pattern.search(text)]


def consultant_profiles(consultants: pd.DataFrame, skill_assessments: pd.DataFrame, trainings: pd.DataFrame,
                        certifications: pd.DataFrame, resumes: pd.DataFrame, window: RunWindow) -> pd.DataFrame:
    resumes = versions(resumes, [ID], ["updated_date"], known="updated_date")
    named = resumes["resume_text"].map(key_skills)
    resume_skills = named.explode().dropna().astype("str")  # each resume's key skills, one row each
    sql = PROFILES.format(lookback_days=TRAINING_LOOKBACK_DAYS, employed=in_force("s", "g.since", "employed_until"),
                          level=in_force("l", "g.since"), certificate=in_force("c", "g.since"),
                          resume=in_force("r", "g.since"))
    profiles = query(
        sql, days=day_table(window), consultants=consultants[[ID, "recorded_date", "leave_date"]],
        staff=staff_spells(consultants), assessments=skill_assessments[[ID, "recorded_date"]],
        levels=versions(skill_assessments, [ID, "skill"], ["assessed_date", "recorded_date"]),
        trainings=trainings[[ID, "skill", "hours", "completed_date", "recorded_date"]],
        certifications=certifications[[ID, "recorded_date", "expiry_date"]],
        certificates=versions(certifications, [ID, "certification"], ["issued_date", "certification_id"]),
        resumes=resumes[[ID, "updated_date", "valid_from", "valid_until"]].assign(
            resume=resumes.index, resume_key_skills=named.map(joined).astype("str")),
        resume_skills=pd.DataFrame({"resume": resume_skills.index, "skill": resume_skills.to_numpy(),
                                    "position": resume_skills.groupby(level=0).cumcount().to_numpy()}))
    tenure_years = (profiles.pop("tenure_days") / 365.25).round(1)
    return profiles.assign(snapshot_date=python_dates(profiles["snapshot_date"]), tenure_years=tenure_years)[COLUMNS]
