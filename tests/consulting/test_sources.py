"""The source-aligned products: HR feeds renamed to the mesh's terms, and the rules that quarantine bad records."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from assets.consulting.certifications import certifications
from assets.consulting.consultants import consultants
from assets.consulting.practice_requirements import practice_requirements
from assets.consulting.resumes import resumes
from assets.consulting.skill_assessments import skill_assessments
from assets.consulting.trainings import trainings
from checks.consulting.certifications import Certifications
from checks.consulting.consultants import Consultants
from checks.consulting.practice_requirements import PracticeRequirements
from checks.consulting.resumes import Resumes
from checks.consulting.skill_assessments import SkillAssessments
from checks.consulting.trainings import Trainings
from mesh.quality.rules import check_structure, evaluate_rules, schema_from_model
from tests.conftest import MeshEnv
from tests.consulting.frames import frame


def failing(model, key: list[str], data: pd.DataFrame) -> dict[str, list[bool]]:
    """Rule name -> which rows it rejects, after the structure check typed the frame."""
    schema = schema_from_model(model, key)
    typed, structure = check_structure(data, schema)
    assert not structure.fatal and not structure.failing.any()
    return {o.rule.name: list(o.failing) for o in evaluate_rules(typed, schema)}


def test_consultants_rename_and_reject_a_missing_or_unknown_practice():
    feed = frame(["employee_id", "full_name", "practice", "grade", "hired_on", "left_on", "change_type",
                  "recorded_on"],
                 [(1, "Ada Costa", "Data", "Analyst", "2023-03-01", None, "hire", "2023-03-01"),
                  (2, "Ben Weber", None, "Manager", "2019-05-01", None, "promotion", "2023-03-01"),
                  (3, "Chen Xu", "Marketing", "Analyst", "2023-03-01", None, "hire", "2023-03-01"),
                  (4, "Dara Ito", "Cloud", "Principal", "2023-03-02", "2023-03-01", "hire", "2023-03-01")],
                 date_columns=("hired_on", "left_on", "recorded_on"))
    out = consultants(feed)
    assert list(out.columns) == ["consultant_id", "name", "practice", "career_level", "hire_date", "leave_date",
                                 "change", "recorded_date"]
    assert out.iloc[0]["career_level"] == "Analyst" and out.iloc[0]["hire_date"] == dt.date(2023, 3, 1)
    rules = failing(Consultants, ["consultant_id", "recorded_date"], out)
    assert rules["consultant_has_practice"] == [False, True, False, False]
    assert rules["known_practice"] == [False, False, True, False]  # an empty practice is the rule above's
    # 4 is hired the day after it was recorded, and has a leave date on a hire record
    assert rules["hired_by_recording"] == [False, False, False, True]
    assert rules["leave_date_only_when_leaving"] == [False, False, False, True]
    assert rules["leave_not_before_hire"] == [False, False, False, True]


def test_certifications_reject_an_expiry_before_the_issue():
    feed = frame(["cert_id", "employee_id", "certification", "vendor", "issued_on", "expires_on", "recorded_on"],
                 [(11, 1, "PMP", "PMI", "2023-03-01", "2026-03-01", "2023-03-01"),
                  (12, 1, "CISSP", "ISC2", "2023-03-01", "2022-03-01", "2023-03-01"),
                  (13, 2, "Oracle DBA", "Oracle", "2020-01-01", "2030-01-01", "2023-03-01")],
                 date_columns=("issued_on", "expires_on", "recorded_on"))
    out = certifications(feed)
    assert list(out["certification_id"]) == [11, 12, 13]
    rules = failing(Certifications, ["certification_id"], out)
    assert rules["expiry_after_issue"] == [False, True, False]
    assert rules["known_vendor"] == [False, False, True]
    assert rules["validity_at_most_five_years"] == [False, False, True]  # ten years


def test_skill_assessments_trainings_and_requirements_rules():
    skills = frame(["employee_id", "skill", "level", "assessed_on", "recorded_on"],
                   [(1, "SQL", 3, "2023-03-01", "2023-03-01"), (1, "Cobol", 6, "2021-01-01", "2023-03-01")],
                   date_columns=("assessed_on", "recorded_on"))
    rules = failing(SkillAssessments, ["consultant_id", "skill", "assessed_date"], skill_assessments(skills))
    assert rules["skill_level_in_scale"] == [False, True]
    assert rules["known_skill"] == [False, True]
    assert rules["assessment_recent_when_recorded"] == [False, True]  # 790 days between assessed and recorded

    courses = frame(["employee_id", "course", "skill", "hours", "completed_on", "recorded_on"],
                    [(1, "Advanced SQL", "SQL", 24.0, "2023-02-27", "2023-03-01"),
                     (1, "SQL Bootcamp", "SQL", 240.0, "2023-03-02", "2023-03-01"),
                     (2, "Advanced AWS", "AWS", -24.0, "2023-03-01", "2023-03-01")],
                    date_columns=("completed_on", "recorded_on"))
    rules = failing(Trainings, ["consultant_id", "course", "completed_date"], trainings(courses))
    assert rules["hours_positive"] == [False, False, True]
    assert rules["hours_plausible"] == [False, True, False]
    assert rules["completed_by_recording"] == [False, True, False]

    demand = frame(["practice", "skill", "required_level", "headcount_needed", "effective_on"],
                   [("Data", "SQL", 4, 3, "2023-04-01"), ("Data", "Python", 0, 3000, "2023-04-01")],
                   date_columns=("effective_on",))
    out = practice_requirements(demand)
    assert out.iloc[0].to_dict() == {"practice": "Data", "skill": "SQL", "required_level": 4, "headcount_needed": 3,
                                     "effective_date": dt.date(2023, 4, 1)}
    rules = failing(PracticeRequirements, ["practice", "skill", "effective_date"], out)
    assert rules["required_level_in_scale"] == [False, True]
    assert rules["headcount_needed_plausible"] == [False, True]


def test_resumes_count_words_and_reject_a_blank_one():
    feed = frame(["employee_id", "resume", "recorded_on"],
                 [(1, "Ada Costa: Analyst, Data practice.", "2023-03-01"), (2, "   ", "2023-03-01")],
                 date_columns=("recorded_on",))
    out = resumes(feed)
    assert list(out["word_count"]) == [5, 0]
    assert failing(Resumes, ["consultant_id", "updated_date"], out)["resume_not_blank"] == [False, True]


def write_feed(root: Path, feed: str, day: str, lines: list[str]) -> Path:
    path = root / "hr" / feed / f"{day}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_issue_5_defects_end_in_quarantine_with_their_rule_and_line(tmp_path):
    day = "2023-03-01"
    write_feed(tmp_path, "consultants", day, [
        "employee_id,full_name,practice,grade,hired_on,left_on,change_type,recorded_on",
        f"1,Ada Costa,Data,Analyst,{day},,hire,{day}",
        f"2,Ben Weber,,Consultant,{day},,hire,{day}",
        f"3,Søren Weber,Cloud,Analyst,{day},,hire,{day}"])
    write_feed(tmp_path, "certifications", day, [
        "cert_id,employee_id,certification,vendor,issued_on,expires_on,recorded_on",
        f"11,1,PMP,PMI,{day},2026-03-01,{day}",
        f"12,3,CISSP,ISC2,{day},2022-03-01,{day}"])
    env = MeshEnv(tmp_path / "products", tmp_path)
    for address, rule, line, kept in (("consulting.consultants", "consultant_has_practice", 3, 2),
                                      ("consulting.certifications", "expiry_after_issue", 3, 1)):
        verdict = env.run(address, day).verdicts[day]
        assert verdict.published and (verdict.rows_in, verdict.rows_published, verdict.rows_quarantined) == (
            kept + 1, kept, 1)
        entry = env.port().read(f"{address}__quarantine").iloc[0]
        assert (entry["rule"], entry["stage"], entry["source_line"]) == (rule, "validate", line)
        assert entry["reason"].startswith(f"failed rule {rule}: ")
        assert entry["source_file"].endswith(f"{address.split('.')[1]}/{day}.csv")
    record = json.loads(env.port().read("consulting.certifications__quarantine").iloc[0]["record"])
    assert (record["certification_id"], record["expiry_date"]) == (12, "2022-03-01")
    assert list(env.port().read("consulting.consultants")["consultant_id"]) == [1, 3]
