"""The HR and learning systems' simulator (operational/hr.py): layout, determinism, migration, defects."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from operational import Settings
from operational.feeds import Defects
from operational.hr import COLUMNS, FEEDS, HrSettings, generate, quarter_starts

SMALL = Settings(scale_factor=0.001)  # 24 consultants on the epoch day
HR_KINDS = Defects(0.05, ("out_of_range", "null_key"), seed=3)  # no generic kind that inserts lines


def digest(folder: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            sha.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return sha.hexdigest()


def rows(root: Path, feed: str, day: date) -> list[dict]:
    with open(root / "hr" / feed / f"{day.isoformat()}.csv", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hr")
    generate(root, SMALL)
    return root


def test_one_csv_per_day_per_feed_with_header_even_when_empty(small):
    settings = HrSettings(**vars(SMALL))
    days = (settings.last_day - settings.epoch).days + 1
    for feed in FEEDS:
        files = sorted((small / "hr" / feed).glob("*.csv"))
        assert len(files) == days, feed
        assert files[0].stem == settings.epoch.isoformat() and files[-1].stem == settings.last_day.isoformat()
        assert files[0].read_text(encoding="utf-8").splitlines()[0] == ",".join(COLUMNS[feed])
    quiet = [p for p in (small / "hr" / "practice_requirements").glob("*.csv") if p.stem == "2023-01-02"]
    assert quiet[0].read_text() == ",".join(COLUMNS["practice_requirements"]) + "\n"


def test_same_settings_same_bytes_and_a_marker_makes_it_idempotent(small, tmp_path):
    generate(tmp_path, SMALL)
    assert digest(tmp_path / "hr") == digest(small / "hr")
    removed = tmp_path / "hr" / "skills" / "2024-05-01.csv"
    removed.unlink()
    generate(tmp_path, SMALL)  # up to date according to its marker: nothing rewritten
    assert not removed.exists()
    generate(tmp_path, SMALL, force=True)
    assert removed.exists()
    other = tmp_path / "other"
    generate(other, Settings(scale_factor=0.001, seed=8))
    assert digest(other / "hr") != digest(small / "hr")


def test_the_epoch_day_migrates_the_staff_and_their_history(small):
    epoch = SMALL.epoch
    staff = rows(small, "consultants", epoch)
    assert len(staff) == HrSettings(**vars(SMALL)).initial_headcount == 24
    assert {r["change_type"] for r in staff} == {"migration"}
    assert all(date.fromisoformat(r["hired_on"]) < epoch for r in staff)
    assert len({r["employee_id"] for r in staff}) == 24
    resumes = rows(small, "resumes", epoch)
    assert len({r["employee_id"] for r in resumes}) == len(resumes) > 0
    assert all(r["resume"].startswith(next(s["full_name"] for s in staff if s["employee_id"] == r["employee_id"]))
               for r in resumes)
    certificates = rows(small, "certifications", epoch)
    assert all(date.fromisoformat(r["expires_on"]) >= epoch - timedelta(days=180) for r in certificates)
    assert all(date.fromisoformat(r["issued_on"]) < date.fromisoformat(r["expires_on"]) for r in certificates)
    requirements = rows(small, "practice_requirements", epoch)
    assert {r["practice"] for r in requirements} == {"Cloud", "Data", "Engineering", "Security", "Strategy"}
    assert not (small / "hr" / "_defects.jsonl").read_text()  # no defects asked for


def test_headcount_scales_within_bounds_and_requirements_follow_quarters():
    assert [HrSettings(scale_factor=sf).initial_headcount for sf in (0.0001, 0.01, 0.1, 10)] == [24, 240, 2400,
                                                                                                   12000]
    assert quarter_starts(date(2023, 2, 15), date(2023, 12, 31)) == [
        date(2023, 2, 15), date(2023, 4, 1), date(2023, 7, 1), date(2023, 10, 1)]


def test_hr_defects_are_logged_at_the_line_that_holds_them(tmp_path):
    generate(tmp_path, Settings(scale_factor=0.001, defects=HR_KINDS))
    log = [json.loads(line) for line in (tmp_path / "hr" / "_defects.jsonl").read_text().splitlines()]
    hr_defects = [e for e in log if e["kind"] in ("expiry_before_issue", "missing_practice")]
    assert {e["kind"] for e in hr_defects} == {"expiry_before_issue", "missing_practice"}
    for entry in hr_defects:
        lines = (tmp_path / "hr" / entry["feed"] / f"{entry['day']}.csv").read_text(encoding="utf-8").splitlines()
        record = dict(zip(lines[0].split(","), next(csv.reader([lines[entry["line"] - 1]])), strict=True))
        if entry["kind"] == "missing_practice":
            assert record["practice"] == "", entry
        else:
            assert record["expires_on"] < record["issued_on"], entry
    # the HR kinds come with their generic kinds only
    generate(tmp_path / "malformed_only", Settings(scale_factor=0.001, defects=Defects(0.05, ("malformed",))))
    kinds = {json.loads(line)["kind"] for line in (tmp_path / "malformed_only" / "hr" / "_defects.jsonl").open()}
    assert kinds == {"malformed"}
