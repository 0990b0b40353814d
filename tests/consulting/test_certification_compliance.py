"""consulting.certification_compliance on hand-built frames; statuses at the day boundaries worked out by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from assets.consulting.certification_compliance import certification_compliance, status_of
from checks.consulting.certification_compliance import CertificationCompliance
from mesh.quality.rules import check_structure, evaluate_rules, schema_from_model
from tests.consulting.frames import consultants, frame, window

STAFF = consultants(
    (1, "Data", "Consultant", "2020-01-01", None, "migration", "2023-01-01"),
    (2, "Cloud", "Manager", "2019-01-01", None, "migration", "2023-01-01"),
    (3, "Security", "Analyst", "2022-01-01", None, "migration", "2023-01-01"),
    (3, "Security", "Analyst", "2022-01-01", "2024-02-01", "leave", "2024-02-01"),
)
COLUMNS = ["certification_id", "consultant_id", "certification", "vendor", "issued_date", "expiry_date",
           "recorded_date"]


def certificate(cert_id: int, consultant: int, name: str, issued: str, expires: str,
                recorded: str = "2023-01-01") -> tuple:
    return (cert_id, consultant, name, "Vendor", issued, expires, recorded)


# Snapshot day 2024-03-31: days to expiry and the status they give
CERTIFICATES = frame(COLUMNS, [
    certificate(1, 1, "C1", "2022-01-01", "2024-03-30"),  # -1: expired
    certificate(2, 1, "C2", "2022-01-01", "2024-03-31"),  # 0: expiring_30_days (valid through its expiry day)
    certificate(3, 1, "C3", "2022-01-01", "2024-04-30"),  # 30: expiring_30_days
    certificate(4, 1, "C4", "2022-01-01", "2024-05-01"),  # 31: expiring_60_days
    certificate(5, 1, "C5", "2022-01-01", "2024-05-30"),  # 60: expiring_60_days
    certificate(6, 1, "C6", "2022-01-01", "2024-05-31"),  # 61: expiring_90_days
    certificate(7, 1, "C7", "2022-01-01", "2024-06-29"),  # 90: expiring_90_days
    certificate(8, 1, "C8", "2022-01-01", "2024-06-30"),  # 91: valid
    certificate(9, 2, "PMP", "2021-01-01", "2024-01-01"),  # renewed by 10
    certificate(10, 2, "PMP", "2023-12-15", "2026-12-15", "2023-12-15"),  # 989 days: 365 + 365 + 259
    certificate(11, 3, "CISSP", "2022-01-01", "2025-01-01"),  # 3 has left
    certificate(12, 4, "CKA", "2023-06-01", "2025-06-01", "2023-06-01"),  # 4 is not in the HR master
    certificate(13, 1, "C13", "2021-03-01", "2023-03-01"),  # -396: lapsed for good, beyond 365 days
    certificate(14, 1, "C14", "2021-04-01", "2023-04-01"),  # -365: still shown, expired
    certificate(15, 1, "C15", "2024-03-31", "2027-03-31", "2024-04-01"),  # recorded after the snapshot day
])


def compliance(first: str, last: str | None = None) -> pd.DataFrame:
    return certification_compliance(STAFF, CERTIFICATES, window(first, last), {"expired_shown_days": 365})


def test_statuses_at_every_boundary():
    out = compliance("2024-03-31").set_index("certification_id")
    assert list(out.index) == [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14]
    assert dict(out["days_to_expiry"]) == {1: -1, 2: 0, 3: 30, 4: 31, 5: 60, 6: 61, 7: 90, 8: 91, 10: 989, 12: 427,
                                           14: -365}
    assert dict(out["status"]) == {
        1: "expired", 2: "expiring_30_days", 3: "expiring_30_days", 4: "expiring_60_days", 5: "expiring_60_days",
        6: "expiring_90_days", 7: "expiring_90_days", 8: "valid", 10: "valid", 12: "valid", 14: "expired"}
    assert out.loc[10, "practice"] == "Cloud" and pd.isna(out.loc[12, "practice"])
    assert (out["snapshot_date"] == dt.date(2024, 3, 31)).all()


def test_each_day_of_the_window_is_its_own_snapshot():
    out = compliance("2024-03-31", "2024-04-01")
    status = out.set_index(["certification_id", "snapshot_date"])["status"]
    march, april = dt.date(2024, 3, 31), dt.date(2024, 4, 1)
    assert (status[2, march], status[2, april]) == ("expiring_30_days", "expired")  # expires 31 March
    assert (status[8, march], status[8, april]) == ("valid", "expiring_90_days")  # 91, then 90 days left
    assert (15, march) not in status.index and status[15, april] == "valid"  # recorded on 1 April
    assert out.loc[out["certification_id"] == 15, "days_to_expiry"].iloc[0] == 1094  # 365 + 365 + 364


def test_status_of_days_left():
    statuses = status_of(pd.Series([-400, -1, 0, 30, 31, 60, 61, 90, 91, 1000]))
    assert list(statuses) == ["expired", "expired", "expiring_30_days", "expiring_30_days", "expiring_60_days",
                              "expiring_60_days", "expiring_90_days", "expiring_90_days", "valid", "valid"]


def test_rules_pass_and_warn_about_expired_and_unknown_holders():
    schema = schema_from_model(CertificationCompliance, ["snapshot_date", "certification_id"])
    out = compliance("2024-03-31")
    typed, structure = check_structure(out, schema)
    assert not structure.fatal and not structure.failing.any()
    outcomes = {o.rule.name: o for o in evaluate_rules(typed, schema)}
    assert not [n for n, o in outcomes.items() if o.rule.severity == "error" and not o.passed]
    flagged = {name: set(out["certification_id"][outcomes[name].failing]) for name in ("not_expired",
                                                                                       "consultant_in_master")}
    assert flagged == {"not_expired": {1, 14}, "consultant_in_master": {12}}
    # the rule that guards the status catches a wrong one
    typed.loc[typed.index[0], "status"] = "valid"
    broken = {o.rule.name: o for o in evaluate_rules(typed, schema)}
    assert list(broken["status_matches_days_to_expiry"].failing).count(True) == 1
