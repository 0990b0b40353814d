"""consulting.consultant_profiles on hand-built frames; expected values worked out by hand below."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from assets.consulting.consultant_profiles import SKILL_KEYWORDS, consultant_profiles, key_skills
from checks.consulting import SKILLS
from checks.consulting.consultant_profiles import ConsultantProfiles
from mesh.quality.rules import check_structure, evaluate_rules, schema_from_model
from tests.consulting.frames import consultants, frame, window

STAFF = consultants(
    (1, "Data", "Consultant", "2020-03-31", None, "migration", "2023-01-01"),
    (2, "Cloud", "Analyst", "2024-01-15", None, "hire", "2024-01-15"),
    (3, "Security", "Manager", "2021-01-01", None, "migration", "2023-01-01"),
    (3, "Security", "Manager", "2021-01-01", "2024-02-01", "leave", "2024-02-01"),
)
ASSESSMENTS = frame(["consultant_id", "skill", "skill_level", "assessed_date", "recorded_date"], [
    (1, "Python", 2, "2023-06-01", "2023-06-01"),
    (1, "Python", 3, "2024-01-10", "2024-01-10"),  # the latest Python assessment wins
    (1, "SQL", 4, "2024-01-10", "2024-01-10"),
    (1, "Spark", 5, "2024-03-30", "2024-04-02"),  # recorded after the snapshot day: not known yet
])
TRAININGS = frame(["consultant_id", "course", "skill", "hours", "completed_date", "recorded_date"], [
    (1, "Advanced Python", "Python", 24.0, "2024-02-01", "2024-02-01"),  # after its assessment: in training
    (1, "SQL in Practice", "SQL", 16.0, "2023-12-01", "2023-12-02"),  # before its assessment: done
    (1, "Foundations of dbt", "dbt", 8.0, "2023-03-01", "2023-03-01"),  # more than 365 days ago
    (2, "Foundations of AWS", "AWS", 8.0, "2024-02-20", "2024-02-20"),  # never assessed: in training
])
CERTIFICATES = frame(["certification_id", "consultant_id", "certification", "vendor", "issued_date", "expiry_date",
                      "recorded_date"], [
    (11, 1, "PMP", "PMI", "2021-01-01", "2024-01-01", "2023-01-01"),
    (14, 1, "PMP", "PMI", "2023-12-20", "2026-12-20", "2023-12-20"),  # renews 11
    (12, 1, "AWS Solutions Architect Associate", "Amazon Web Services", "2023-05-01", "2026-05-01", "2023-05-01"),
    (13, 1, "Terraform Associate", "HashiCorp", "2022-04-20", "2024-04-19", "2023-01-01"),
    (15, 1, "CISSP", "ISC2", "2020-01-01", "2023-01-01", "2023-01-01"),  # expired
])
RESUMES = frame(["consultant_id", "resume_text", "word_count", "updated_date"], [
    (1, "Ada: Python and Excel.", 4, "2023-01-01"),
    (1, "Ada Costa: builds pipelines in Python 3 with PostgreSQL, dabbles in k8s.", 11, "2024-03-01"),
])


def profiles(first: str, last: str | None = None) -> pd.DataFrame:
    return consultant_profiles(STAFF, ASSESSMENTS, TRAININGS, CERTIFICATES, RESUMES, window(first, last))


def test_a_profile_brings_skills_trainings_certificates_and_resume_together():
    out = profiles("2024-03-31").set_index("consultant_id")
    assert list(out.index) == [1, 2]  # 3 left on 1 February
    ada, ben = out.loc[1], out.loc[2]
    assert ada["snapshot_date"] == dt.date(2024, 3, 31)
    assert ada["tenure_years"] == 4.0  # 1461 days / 365.25
    assert ben["tenure_years"] == 0.2  # 76 days / 365.25 = 0.208
    assert (ada["skills"], ada["skill_count"], ada["mean_skill_level"]) == ("SQL 4, Python 3", 2, 3.5)
    assert ada["skills_in_training"] == "Python"
    assert (ada["training_count_365_days"], ada["training_hours_365_days"]) == (2, 40.0)  # 24 + 16 hours
    assert ada["last_training_date"] == dt.date(2024, 2, 1)
    assert ada["certifications"] == "AWS Solutions Architect Associate; PMP; Terraform Associate"
    assert ada["valid_certification_count"] == 3
    assert ada["next_certification_expiry_date"] == dt.date(2024, 4, 19)
    assert ada["resume_key_skills"] == "Kubernetes, Python, SQL"  # k8s, Python 3, PostgreSQL
    assert ada["resume_skills_unassessed"] == "Kubernetes"
    assert ada["resume_updated_date"] == dt.date(2024, 3, 1)
    assert pd.isna(ben["skills"]) and ben["skill_count"] == 0 and pd.isna(ben["mean_skill_level"])
    assert ben["skills_in_training"] == "AWS" and ben["training_hours_365_days"] == 8.0
    assert pd.isna(ben["certifications"]) and ben["valid_certification_count"] == 0
    assert pd.isna(ben["resume_key_skills"]) and pd.isna(ben["resume_updated_date"])


def test_each_day_of_the_window_is_its_own_snapshot():
    out = profiles("2024-01-14", "2024-01-15")
    by_day = out.groupby("snapshot_date")["consultant_id"].agg(list).to_dict()
    assert by_day == {dt.date(2024, 1, 14): [1, 3], dt.date(2024, 1, 15): [1, 2, 3]}  # 2 joins on the 15th
    ada = out[out["consultant_id"] == 1].set_index("snapshot_date")["resume_key_skills"]
    assert set(ada) == {"Python"}  # the older resume: "Python and Excel"


def test_rules_pass_and_warn_about_the_consultant_without_assessment_or_resume():
    schema = schema_from_model(ConsultantProfiles, ["snapshot_date", "consultant_id"])
    typed, structure = check_structure(profiles("2024-03-31"), schema)
    assert not structure.fatal and not structure.failing.any()
    outcomes = {o.rule.name: o for o in evaluate_rules(typed, schema)}
    assert not [n for n, o in outcomes.items() if o.rule.severity == "error" and not o.passed]
    assert list(outcomes["skills_assessed"].failing) == [False, True]
    assert list(outcomes["resume_on_file"].failing) == [False, True]


@pytest.mark.parametrize(("text", "expected"), [
    ("Runs workloads on Amazon Web Services and k8s", ["AWS", "Kubernetes"]),
    ("Certified ScrumMaster; writes T-SQL; PySpark", ["Agile Delivery", "SQL"]),  # 'PySpark' is not 'Spark'
    ("Sparkling personality, no keywords here", []),
    ("dimensional modelling and scikit-learn", ["Data Modeling", "Machine Learning"]),
    (None, []),
])
def test_key_skills_match_whole_words_of_the_vocabulary(text, expected):
    assert key_skills(text) == expected


def test_the_vocabulary_covers_exactly_the_skill_taxonomy():
    assert sorted(SKILL_KEYWORDS) == sorted(SKILLS)
