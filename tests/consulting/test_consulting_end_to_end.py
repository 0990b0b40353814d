"""The consulting domain end to end: three weeks materialized in Dagster from the generated HR feeds."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pytest

from mesh.contracts.access import Principal
from mesh.contracts.registry import load_mesh
from mesh.errors import AccessDenied

FIRST, LAST = "2023-01-01", "2023-01-21"
DAYS = [(date(2023, 1, 1) + timedelta(days=i)).isoformat() for i in range(21)]
SOURCES = {"consultants": "consultants", "skill_assessments": "skills", "trainings": "trainings",
           "certifications": "certifications", "resumes": "resumes", "practice_requirements": "practice_requirements"}
CONSUMERS = ["consultant_profiles", "certification_compliance", "certification_coverage", "skill_gaps"]
RULES = {"consultants": "consultant_has_practice", "certifications": "expiry_after_issue",
         "consultant_profiles": "skill_count_matches_skills",
         "certification_compliance": "status_matches_days_to_expiry",
         "certification_coverage": "coverage_on_target", "skill_gaps": "headcount_gap_is_shortfall"}


def feed_rows(root: Path, feed: str, day: str) -> list[dict]:
    with open(root / "hr" / feed / f"{day}.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def consulting(tmp_path_factory, erp_root):
    from tests.conftest import MeshEnv

    env = MeshEnv(tmp_path_factory.mktemp("consulting") / "products", erp_root)
    result = env.materialize(FIRST, LAST, domains=["consulting"])
    assert result.success
    return env, result


def test_every_product_publishes_every_day_with_its_checks(consulting):
    env, result = consulting
    materialized = {e.event_specific_data.materialization.asset_key.to_user_string()
                    for e in result.get_asset_materialization_events()}
    assert materialized == {f"consulting/{p}" for p in [*SOURCES, *CONSUMERS]}
    checks = {(e.asset_key.to_user_string(), e.check_name) for e in result.get_asset_check_evaluations()}
    for product in [*SOURCES, *CONSUMERS]:
        for name in ("structure", "error_rate", "volume", "contract_conformance", RULES.get(product, "structure")):
            assert (f"consulting/{product}", name) in checks
        assert env.port().lake.published(load_mesh().product(f"consulting.{product}").address, 1).keys() == DAYS


def test_source_products_conserve_every_feed_line(consulting, erp_root):
    env, _ = consulting
    store = env.port().lake
    for product, feed in SOURCES.items():
        manifest = store.published(load_mesh().product(f"consulting.{product}").address, 1)
        for day in DAYS:
            entry = manifest.partitions[day]
            lines = len(feed_rows(erp_root, feed, day))
            assert entry.rows_in == lines == entry.rows + entry.rows_quarantined, (product, day)


def test_profiles_count_the_staff_employed_each_day(consulting, erp_root):
    env, _ = consulting
    latest: dict[str, str] = {}  # employee -> latest change, replayed from the raw feed
    counts = env.port().sql("SELECT snapshot_date, count(*) AS n FROM consulting.consultant_profiles GROUP BY 1")
    per_day = {row["snapshot_date"].isoformat(): row["n"] for row in counts.to_pylist()}
    for day in DAYS:
        latest |= {r["employee_id"]: r["change_type"] for r in feed_rows(erp_root, "consultants", day)}
        assert per_day[day] == sum(1 for change in latest.values() if change != "leave"), day


def test_products_agree_with_each_other(consulting):
    env, _ = consulting
    sql = env.port().sql
    on_last = f"snapshot_date = DATE '{LAST}'"
    expiring = sql(f"""
        SELECT c.practice, count(*) AS n FROM consulting.certification_compliance c
        JOIN consulting.consultant_profiles p ON p.consultant_id = c.consultant_id AND p.snapshot_date = c.snapshot_date
        WHERE c.{on_last} AND c.status LIKE 'expiring%' GROUP BY 1""").to_pylist()
    coverage = {r["practice"]: r for r in sql(f"SELECT * FROM consulting.certification_coverage WHERE {on_last}")
                .to_pylist()}
    assert {r["practice"]: r["n"] for r in expiring} == {
        p: r["expiring_90_days_count"] for p, r in coverage.items() if r["expiring_90_days_count"]}
    headcount = {r["practice"]: r["n"] for r in sql(
        f"SELECT practice, count(*) AS n FROM consulting.consultant_profiles WHERE {on_last} GROUP BY 1").to_pylist()}
    assert headcount == {p: r["consultant_count"] for p, r in coverage.items()}
    gaps = sql(f"SELECT practice, practice_headcount FROM consulting.skill_gaps WHERE {on_last}").to_pylist()
    assert gaps and all(r["practice_headcount"] == headcount[r["practice"]] for r in gaps)


def test_names_and_resumes_are_personal_data(consulting):
    env, _ = consulting
    analyst = Principal("person:analyst", frozenset({"sales"}))
    member = Principal("person:staffing", frozenset({"consulting"}))
    clear = env.port().read("consulting.consultant_profiles", partition=LAST)
    masked = env.port(analyst).read("consulting.consultant_profiles", partition=LAST)
    assert masked["name"].str.fullmatch(r"[0-9a-f]{32}").all() and not set(masked["name"]) & set(clear["name"])
    with pytest.raises(AccessDenied, match="internal"):
        env.port(analyst).read("consulting.resumes")
    assert (env.port(member).read("consulting.resumes")["resume_text"] == "[redacted]").all()


NEWEST = "snapshot_date = (SELECT max(snapshot_date) FROM consulting.{})"
DIRECTOR_QUERIES = {  # the Consultant Director's questions, as proposed for the README's story table
    "holistic view": "SELECT consultant_id, practice, career_level, skills, skills_in_training, certifications, "
                     "resume_key_skills FROM consulting.consultant_profiles WHERE "
                     + NEWEST.format("consultant_profiles") + " ORDER BY consultant_id",
    "expiring soon": "SELECT consultant_id, practice, certification, expiry_date, status "
                     "FROM consulting.certification_compliance WHERE " + NEWEST.format("certification_compliance")
                     + " AND status <> 'valid' ORDER BY days_to_expiry",
    "coverage": "SELECT practice, consultant_count, coverage_rate, expiring_90_days_count "
                "FROM consulting.certification_coverage WHERE " + NEWEST.format("certification_coverage")
                + " ORDER BY coverage_rate",
    "skill gaps": "SELECT practice, skill, required_level, best_available_level, qualified_consultant_count, "
                  "headcount_needed, headcount_gap, in_development_count FROM consulting.skill_gaps WHERE "
                  + NEWEST.format("skill_gaps") + " AND is_gap ORDER BY headcount_gap DESC",
    "gap trend": "SELECT snapshot_date, sum(headcount_gap) AS consultants_missing FROM consulting.skill_gaps "
                 "GROUP BY 1 ORDER BY 1",
}


@pytest.mark.parametrize("question", sorted(DIRECTOR_QUERIES))
def test_the_directors_questions_have_answers(consulting, question):
    env, _ = consulting
    answer = env.port().sql(DIRECTOR_QUERIES[question]).to_pylist()
    assert answer, question
    if question == "gap trend":
        assert [r["snapshot_date"].isoformat() for r in answer] == DAYS
