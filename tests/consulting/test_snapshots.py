"""The helpers the consulting snapshots share (assets/consulting/__init__.py)."""

from __future__ import annotations

import datetime as dt

from assets.consulting import active_consultants, days_until, latest, snapshot_days
from tests.consulting.frames import consultants, dates, frame, window

STAFF = consultants(
    (1, "Data", "Analyst", "2022-03-01", None, "migration", "2023-01-01"),
    (1, "Data", "Consultant", "2022-03-01", None, "promotion", "2023-01-10"),
    (2, "Cloud", "Manager", "2020-06-01", None, "migration", "2023-01-01"),
    (2, "Cloud", "Manager", "2020-06-01", "2023-01-05", "leave", "2023-01-05"),
    (3, "Security", "Analyst", "2023-01-08", None, "hire", "2023-01-08"),
)


def test_snapshot_days_are_the_windows_days():
    assert snapshot_days(window("2023-01-30", "2023-02-02")) == [
        dt.date(2023, 1, 30), dt.date(2023, 1, 31), dt.date(2023, 2, 1), dt.date(2023, 2, 2)]


def test_active_consultants_follow_hires_promotions_and_leavers():
    def staff_on(day: str) -> dict[int, str]:
        found = active_consultants(STAFF, dt.date.fromisoformat(day))
        return dict(zip(found["consultant_id"], found["career_level"], strict=True))

    assert staff_on("2023-01-04") == {1: "Analyst", 2: "Manager"}
    assert staff_on("2023-01-05") == {1: "Analyst"}  # 2 left on the 5th: gone at the end of that day
    assert staff_on("2023-01-08") == {1: "Analyst", 3: "Analyst"}
    assert staff_on("2023-01-10") == {1: "Consultant", 3: "Analyst"}  # the promotion is the latest record


def test_latest_keeps_the_last_record_of_each_key():
    levels = frame(["consultant_id", "skill", "skill_level", "assessed_date"],
                   [(1, "SQL", 2, "2023-01-01"), (1, "SQL", 4, "2023-07-01"), (1, "AWS", 3, "2023-03-01"),
                    (2, "SQL", 5, "2022-12-01")])
    out = latest(levels, ["consultant_id", "skill"], ["assessed_date"])
    assert sorted(zip(out["consultant_id"], out["skill"], out["skill_level"], strict=True)) == [
        (1, "AWS", 3), (1, "SQL", 4), (2, "SQL", 5)]


def test_days_until_counts_calendar_days_and_is_negative_when_past():
    out = days_until(dates("2024-03-01", "2024-02-28", None), dt.date(2024, 2, 28))
    assert list(out[:2]) == [2, 0]  # 2024 is a leap year: 29 February lies between
    assert out.isna().iloc[2]
    assert days_until(dates("2024-02-01"), dt.date(2024, 2, 28)).iloc[0] == -27
