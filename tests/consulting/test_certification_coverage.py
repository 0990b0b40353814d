"""consulting.certification_coverage on hand-built frames; expected counts worked out by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from assets.consulting.certification_coverage import certification_coverage
from checks.consulting.certification_coverage import CertificationCoverage
from mesh.quality.rules import check_structure, evaluate_rules, schema_from_model
from tests.consulting.frames import consultants, frame, window

STAFF = consultants(
    (1, "Data", "Consultant", "2020-01-01", None, "migration", "2023-01-01"),
    (2, "Data", "Analyst", "2023-06-01", None, "hire", "2023-06-01"),
    (3, "Data", "Manager", "2019-01-01", None, "migration", "2023-01-01"),
    (4, "Cloud", "Analyst", "2023-09-01", None, "hire", "2023-09-01"),
)
COMPLIANCE = frame(["snapshot_date", "consultant_id", "practice", "status"], [
    ("2024-03-31", 1, "Data", "valid"),
    ("2024-03-31", 1, "Data", "expired"),
    ("2024-03-31", 2, "Data", "expiring_30_days"),
    ("2024-03-31", 3, "Data", "expired"),
    ("2024-03-31", 5, None, "valid"),  # not in the HR master: no practice to count for
    ("2024-03-30", 4, "Cloud", "valid"),  # another day's snapshot
])


def test_coverage_counts_consultants_holding_a_current_certificate():
    out = certification_coverage(STAFF, COMPLIANCE, window("2024-03-31")).set_index("practice")
    # Data: 1 (valid) and 2 (expiring) are certified, 3 holds only an expired one
    assert out.loc["Data", ["consultant_count", "certified_consultant_count", "expiring_90_days_count",
                            "expired_count"]].tolist() == [3, 2, 1, 2]
    assert out.loc["Data", "coverage_rate"] == pytest.approx(2 / 3)
    assert out.loc["Cloud", ["consultant_count", "certified_consultant_count", "coverage_rate"]].tolist() == [1, 0, 0.0]
    assert set(out["snapshot_date"]) == {dt.date(2024, 3, 31)}


def test_rules_warn_about_the_practice_below_target():
    schema = schema_from_model(CertificationCoverage, ["snapshot_date", "practice"])
    out = certification_coverage(STAFF, COMPLIANCE, window("2024-03-31"))
    typed, structure = check_structure(out, schema)
    assert not structure.fatal and not structure.failing.any()
    outcomes = {o.rule.name: o for o in evaluate_rules(typed, schema)}
    assert not [n for n, o in outcomes.items() if o.rule.severity == "error" and not o.passed]
    assert dict(zip(out["practice"], outcomes["coverage_on_target"].failing, strict=True)) == {"Cloud": True,
                                                                                                 "Data": False}
