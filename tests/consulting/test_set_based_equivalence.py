"""The set-based snapshots give exactly what the per-day reference (tests/consulting/reference.py) gives.

The products compute every day of a run at once; the reference recomputes each day from the whole
history. On ten months of the generated HR data (moved three days later, so that the run opens on
days nobody is employed yet, and without the HR master's records of every tenth consultant, whose
certificates then belong to nobody the master knows) the products run over the whole window, and
the reference on sampled days: the first days, the days consultants are hired, promoted and leave,
a requirement revision, days certificates expire and trainings leave the trailing year. Each day of
the reference is its own snapshot, so the sampled days are the window's rows on those days.
"""

from __future__ import annotations

import importlib
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from assets.consulting import known_by, latest, versions
from assets.consulting.certification_compliance import certification_compliance
from assets.consulting.certification_coverage import certification_coverage
from assets.consulting.consultant_profiles import TRAINING_LOOKBACK_DAYS, consultant_profiles
from assets.consulting.skill_gaps import skill_gaps
from mesh.contracts.partitions import RunWindow
from mesh.contracts.registry import load_mesh
from mesh.storage.ports import to_pandas
from mesh.storage.sources import read_sources
from tests.consulting import reference
from tests.consulting.frames import consultants, frame, window

FIRST, LAST = "2023-01-01", "2023-10-27"  # 300 days
SHIFT = timedelta(days=3)  # the HR systems' first day becomes 4 January
SOURCES = ["consultants", "skill_assessments", "trainings", "certifications", "resumes", "practice_requirements"]
GAP_PARAMS, COMPLIANCE_PARAMS = {"development_window_days": 180}, {"expired_shown_days": 365}


def published(root: Path, name: str) -> pd.DataFrame:
    """A source product's records of the window, typed as an input reads them from the lake."""
    product = load_mesh().product(f"consulting.{name}")
    batch = read_sources(root, dict(product.contract.sources), RunWindow.of_keys(product.domain, FIRST, LAST), 0)
    records = getattr(importlib.import_module(f"assets.consulting.{name}"), name)(*batch.frames.values())
    return to_pandas(pa.Table.from_pandas(records, preserve_index=False).replace_schema_metadata(None))


def moved(records: pd.DataFrame) -> pd.DataFrame:
    dates = [c for c in records.columns if c.endswith("_date")]
    return records.assign(**{c: (pd.to_datetime(records[c]) + SHIFT).dt.date.astype(records[c].dtype) for c in dates})


@pytest.fixture(scope="module")
def hr(erp_root) -> dict[str, pd.DataFrame]:
    frames = {name: moved(published(erp_root, name)) for name in SOURCES}
    consultants = frames["consultants"]
    frames["consultants"] = consultants[consultants["consultant_id"] % 10 != 0]
    return frames


def first_day(dates: pd.Series, offset: int = 0) -> date:
    """The first of the dates (moved by ``offset`` days) after the migration."""
    return min(d + timedelta(days=offset) for d in dates.dropna() if d + timedelta(days=offset) > date(2023, 1, 5))


@pytest.fixture(scope="module")
def days(hr) -> list[date]:
    """The sampled days, in order."""
    staff, changes = hr["consultants"], hr["consultants"].set_index("change")["recorded_date"]
    last = date.fromisoformat(LAST)
    edges = {
        date(2023, 1, 2),  # nobody employed, nothing recorded
        date(2023, 1, 4), date(2023, 1, 5),  # the migration, the day after
        first_day(changes["hire"]), first_day(changes["promotion"]),
        first_day(staff["leave_date"]), first_day(staff["leave_date"]) - timedelta(days=1),
        first_day(hr["practice_requirements"]["effective_date"]),
        first_day(hr["certifications"]["expiry_date"], 1),
        first_day(hr["trainings"]["completed_date"], TRAINING_LOOKBACK_DAYS),
        date(2023, 7, 19),  # an ordinary day, months into the run
        last,
    }
    return sorted(d for d in edges if d <= last)


def assert_same(computed: pd.DataFrame, expected: pd.DataFrame, days: list[date]) -> None:
    """The products' rows on ``days`` are the reference's, value for value. The reference's text columns
    lose their type on a day without a value in them (an empty day: pandas then guesses object or
    float64, and the run's frame takes the mix); the products keep the contract's, so those are compared
    as text."""
    computed = computed[computed["snapshot_date"].isin(days)].reset_index(drop=True)
    for column in expected.columns:
        if expected[column].dtype != computed[column].dtype:
            assert computed[column].dtype == "str" and expected[column].dtype in ("object", "float64"), column
            expected[column] = expected[column].astype(computed[column].dtype)
    pd.testing.assert_frame_equal(computed, expected, check_exact=True)


def test_the_run_opens_on_days_nobody_is_employed(hr, days):
    out = consultant_profiles(hr["consultants"], hr["skill_assessments"], hr["trainings"], hr["certifications"],
                              hr["resumes"], window(FIRST, LAST))
    assert out["snapshot_date"].min() == date(2023, 1, 4)  # the migration, moved
    assert days[0] == date(2023, 1, 2)  # sampled: the reference's empty day is compared too


def test_consultant_profiles_equal_the_reference(hr, days):
    inputs = [hr[n] for n in ("consultants", "skill_assessments", "trainings", "certifications", "resumes")]
    assert_same(consultant_profiles(*inputs, window(FIRST, LAST)), reference.reference_profiles(*inputs, days), days)


def test_skill_gaps_equal_the_reference(hr, days):
    inputs = [hr[n] for n in ("consultants", "skill_assessments", "trainings", "practice_requirements")]
    expected = reference.reference_gaps(*inputs, days, GAP_PARAMS)
    assert_same(skill_gaps(*inputs, window(FIRST, LAST), GAP_PARAMS), expected, days)


def test_certification_compliance_and_coverage_equal_the_reference(hr, days):
    staff, certificates = hr["consultants"], hr["certifications"]
    compliance = certification_compliance(staff, certificates, window(FIRST, LAST), COMPLIANCE_PARAMS)
    expected = reference.reference_compliance(staff, certificates, days, COMPLIANCE_PARAMS)
    assert_same(compliance, expected, days)
    assert expected["practice"].isna().any()  # certificates of consultants the master does not know
    # coverage reads the compliance partitions as the mesh hands them over: dates as Arrow dates
    compliance = to_pandas(pa.Table.from_pandas(compliance, preserve_index=False).replace_schema_metadata(None))
    expected = reference.reference_coverage(staff, compliance, days)
    assert_same(certification_coverage(staff, compliance, window(FIRST, LAST)), expected, days)


# Six weeks of hand-built records the generated data does not have: a leave recorded ahead of the
# leave day, a rehire, a backdated assessment, certificates of someone the HR master does not know,
# a requirement revised, nothing recorded on the first day; compared on the days things change.
EDGE_STAFF = consultants(
    (1, "Data", "Analyst", "2020-01-01", None, "migration", "2023-01-02"),
    (1, "Data", "Consultant", "2020-01-01", None, "promotion", "2023-01-10"),
    (1, "Data", "Consultant", "2020-01-01", "2023-01-25", "leave", "2023-01-15"),  # notice: leaves on the 25th
    (2, "Data", "Analyst", "2023-01-05", None, "hire", "2023-01-05"),
    (2, "Data", "Analyst", "2023-01-05", "2023-01-12", "leave", "2023-01-12"),
    (3, "Cloud", "Manager", "2023-01-03", None, "hire", "2023-01-03"),
    (3, "Cloud", "Manager", "2023-01-03", "2023-01-20", "leave", "2023-01-20"),
    (3, "Cloud", "Manager", "2023-01-28", None, "hire", "2023-01-28"),  # back
)
EDGE_ASSESSMENTS = frame(["consultant_id", "skill", "skill_level", "assessed_date", "recorded_date"], [
    (1, "SQL", 3, "2022-12-01", "2023-01-02"), (1, "SQL", 4, "2023-01-09", "2023-01-09"),
    (1, "SQL", 2, "2023-01-05", "2023-01-12"),  # backdated: below the assessment of the 9th
    (1, "Python", 2, "2023-01-09", "2023-01-09"), (2, "Python", 4, "2023-01-06", "2023-01-07"),
    (3, "AWS", 3, "2023-01-03", "2023-01-03"), (3, "AWS", 5, "2023-01-29", "2023-01-30"),
])
EDGE_TRAININGS = frame(["consultant_id", "course", "skill", "hours", "completed_date", "recorded_date"], [
    (1, "Python 1", "Python", 8.0, "2022-01-10", "2023-01-02"),  # leaves the trailing year on 10 January
    (1, "Python 2", "Python", 16.0, "2023-01-10", "2023-01-11"),  # after the assessment: in training
    (2, "SQL 1", "SQL", 8.0, "2023-01-06", "2023-01-06"),
    (3, "AWS 1", "AWS", 24.0, "2022-07-20", "2023-01-03"),  # developing until 16 January
])
EDGE_CERTIFICATES = frame(["certification_id", "consultant_id", "certification", "vendor", "issued_date",
                           "expiry_date", "recorded_date"], [
    (11, 1, "PMP", "PMI", "2020-01-14", "2023-01-13", "2023-01-02"),  # valid through the 13th
    (12, 1, "PMP", "PMI", "2023-01-20", "2026-01-20", "2023-01-21"),  # renews 11
    (13, 4, "CKA", "CNCF", "2022-01-01", "2023-01-31", "2023-01-02"),  # 4 is not in the HR master
    (14, 3, "AWS SA", "AWS", "2022-06-01", "2025-06-01", "2023-01-03"),
    (15, 2, "CISSP", "ISC2", "2019-01-01", "2022-01-10", "2023-01-05"),  # lapsed for good on 11 January
])
EDGE_RESUMES = frame(["consultant_id", "resume_text", "word_count", "updated_date"], [
    (1, "SQL and Python, some k8s", 5, "2023-01-02"), (1, "Terraform and Spark", 3, "2023-01-18"),
    (3, "AWS, nothing else", 3, "2023-01-03"),
])
EDGE_REQUIREMENTS = frame(["practice", "skill", "required_level", "headcount_needed", "effective_date"], [
    ("Data", "SQL", 3, 1, "2023-01-01"), ("Data", "Python", 3, 2, "2023-01-01"), ("Data", "SQL", 4, 2, "2023-01-15"),
    ("Cloud", "AWS", 4, 1, "2023-01-01"), ("Cloud", "AWS", 3, 1, "2023-02-01"),
])


EDGE_DAYS = [date.fromisoformat(d) for d in (
    "2023-01-01",  # nothing recorded yet
    "2023-01-02", "2023-01-10", "2023-01-11", "2023-01-12",  # migration; promotion; 15 lapses; 2 leaves
    "2023-01-14", "2023-01-15", "2023-01-16",  # 11 expired; SQL revised, 1 gives notice; AWS 1 no longer
    "2023-01-20", "2023-01-24", "2023-01-25", "2023-01-28",  # 3 leaves; 1's last day, 1 gone; 3 back
    "2023-02-01", "2023-02-10")]  # AWS revised, 13 expired; the last day


def test_hand_built_edge_cases_equal_the_reference():
    run, days = window("2023-01-01", "2023-02-10"), EDGE_DAYS
    profiles = [EDGE_STAFF, EDGE_ASSESSMENTS, EDGE_TRAININGS, EDGE_CERTIFICATES, EDGE_RESUMES]
    assert_same(consultant_profiles(*profiles, run), reference.reference_profiles(*profiles, days), days)
    gaps = [EDGE_STAFF, EDGE_ASSESSMENTS, EDGE_TRAININGS, EDGE_REQUIREMENTS]
    assert_same(skill_gaps(*gaps, run, GAP_PARAMS), reference.reference_gaps(*gaps, days, GAP_PARAMS), days)
    compliance = certification_compliance(EDGE_STAFF, EDGE_CERTIFICATES, run, COMPLIANCE_PARAMS)
    assert_same(compliance, reference.reference_compliance(EDGE_STAFF, EDGE_CERTIFICATES, days, COMPLIANCE_PARAMS),
                days)
    assert_same(certification_coverage(EDGE_STAFF, compliance, run),
                reference.reference_coverage(EDGE_STAFF, compliance, days), days)


# A key's records as the HR systems may send them: a correction recorded later that ranks below
# (backdated), two records known the same day, one never recorded, one without an order date.
RECORDS = frame(["consultant_id", "skill", "skill_level", "assessed_date", "recorded_date"], [
    (1, "SQL", 2, "2023-01-01", "2023-01-03"),
    (1, "SQL", 3, "2023-02-01", "2023-02-01"),
    (1, "SQL", 1, "2023-01-15", "2023-02-05"),  # backdated: never the latest
    (1, "SQL", 4, "2023-03-01", "2023-03-02"),
    (1, "SQL", 5, "2023-02-20", "2023-03-02"),  # same day as the one above, ranks below it
    (2, "SQL", 3, "2023-01-10", None),  # never recorded
    (2, "SQL", 2, None, "2023-01-20"),  # no assessment date: sorts last, so the latest
    (2, "SQL", 4, "2023-02-10", "2023-02-10"),
    (2, "AWS", 1, "2023-01-05", "2023-01-05"),
    (2, "AWS", 2, "2023-01-05", "2023-01-05"),  # a duplicate: the later row wins, as `latest` keeps it
])


def test_versions_give_the_latest_record_known_on_every_day():
    spans = versions(RECORDS, ["consultant_id", "skill"], ["assessed_date", "recorded_date"])
    text = [[None if pd.isna(d) else d.isoformat() for d in spans[c]] for c in ("valid_from", "valid_until")]
    assert list(zip(spans["consultant_id"], spans["skill"], spans["skill_level"], *text, strict=True)) == [
        (1, "SQL", 2, "2023-01-03", "2023-02-01"), (1, "SQL", 3, "2023-02-01", "2023-03-02"),
        (1, "SQL", 4, "2023-03-02", None), (2, "AWS", 2, "2023-01-05", None), (2, "SQL", 2, "2023-01-20", None)]
    for offset in range(70):
        day = date(2023, 1, 1) + timedelta(days=offset)
        expected = latest(known_by(RECORDS, day), ["consultant_id", "skill"], ["assessed_date", "recorded_date"])
        current = spans[(pd.to_datetime(spans["valid_from"]) <= pd.Timestamp(day))
                        & ~(pd.to_datetime(spans["valid_until"]) <= pd.Timestamp(day))]
        assert sorted(map(tuple, current[["consultant_id", "skill", "skill_level"]].to_numpy().tolist())) == sorted(
            map(tuple, expected[["consultant_id", "skill", "skill_level"]].to_numpy().tolist())), day
