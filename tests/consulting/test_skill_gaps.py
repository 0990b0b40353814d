"""consulting.skill_gaps on hand-built frames; expected levels and gaps worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from assets.consulting.skill_gaps import skill_gaps
from checks.consulting.skill_gaps import SkillGaps
from mesh.quality.rules import check_structure, evaluate_rules, schema_from_model
from tests.consulting.frames import consultants, frame, window

STAFF = consultants(
    (1, "Data", "Consultant", "2020-01-01", None, "migration", "2023-01-01"),
    (2, "Data", "Analyst", "2023-06-01", None, "hire", "2023-06-01"),
    (3, "Data", "Manager", "2019-01-01", None, "migration", "2023-01-01"),
    (4, "Cloud", "Principal", "2018-01-01", None, "migration", "2023-01-01"),
    (5, "Data", "Principal", "2018-01-01", None, "migration", "2023-01-01"),
    (5, "Data", "Principal", "2018-01-01", "2024-02-01", "leave", "2024-02-01"),
)
REQUIREMENTS = frame(["practice", "skill", "required_level", "headcount_needed", "effective_date"], [
    ("Data", "Python", 3, 2, "2023-01-01"),
    ("Data", "Python", 4, 2, "2024-01-01"),  # revised: the one in force on 31 March
    ("Data", "SQL", 3, 1, "2023-01-01"),
    ("Data", "SQL", 5, 9, "2024-04-01"),  # not in force yet
    ("Security", "Network Security", 3, 2, "2023-01-01"),  # a practice nobody works in
])
ASSESSMENTS = frame(["consultant_id", "skill", "skill_level", "assessed_date", "recorded_date"], [
    (1, "Python", 4, "2024-01-10", "2024-01-10"),
    (1, "SQL", 2, "2024-01-10", "2024-01-10"),
    (2, "Python", 5, "2023-07-01", "2023-07-01"),
    (2, "Python", 3, "2024-01-01", "2024-01-01"),  # the latest assessment counts, even if lower
    (3, "SQL", 3, "2023-09-01", "2023-09-01"),
    (4, "Python", 5, "2023-09-01", "2023-09-01"),  # Cloud: not the Data practice's
    (5, "Python", 5, "2023-09-01", "2023-09-01"),  # has left
])
TRAININGS = frame(["consultant_id", "course", "skill", "hours", "completed_date", "recorded_date"], [
    (2, "Advanced Python", "Python", 24.0, "2024-02-01", "2024-02-01"),  # within 180 days, below the level
    (3, "Foundations of Python", "Python", 8.0, "2023-06-01", "2023-06-01"),  # more than 180 days ago
    (1, "SQL in Practice", "SQL", 16.0, "2024-03-01", "2024-03-01"),  # within 180 days, below the level
    (1, "Advanced Python", "Python", 24.0, "2024-03-01", "2024-03-01"),  # already qualified: not developing
])
PARAMS = {"development_window_days": 180}


def gaps() -> pd.DataFrame:
    return skill_gaps(STAFF, ASSESSMENTS, TRAININGS, REQUIREMENTS, window("2024-03-31"), PARAMS)


def test_required_versus_available_per_practice_and_skill():
    out = gaps().set_index(["practice", "skill"])
    counts = ["required_level", "headcount_needed", "practice_headcount", "assessed_consultant_count",
              "qualified_consultant_count", "best_available_level", "level_gap", "headcount_gap",
              "in_development_count", "is_gap"]
    # Python in Data: 1 (4) and 2 (3) assessed, 3 not; only 1 reaches level 4; 2 trained recently
    assert out.loc[("Data", "Python"), counts].tolist() == [4, 2, 3, 2, 1, 4, 0, 1, 1, True]
    assert out.loc[("Data", "Python"), "mean_available_level"] == pytest.approx(3.5)
    # SQL in Data: 1 (2) and 3 (3) assessed; 3 qualifies at level 3, which is all that is needed
    assert out.loc[("Data", "SQL"), counts].tolist() == [3, 1, 3, 2, 1, 3, 0, 0, 1, False]
    assert out.loc[("Data", "SQL"), "mean_available_level"] == pytest.approx(2.5)
    # Network Security in Security: nobody to count
    assert out.loc[("Security", "Network Security"), counts].tolist() == [3, 2, 0, 0, 0, 0, 3, 2, 0, True]
    assert pd.isna(out.loc[("Security", "Network Security"), "mean_available_level"])


def test_rules_pass_and_warn_about_the_empty_practice():
    schema = schema_from_model(SkillGaps, ["snapshot_date", "practice", "skill"])
    out = gaps()
    typed, structure = check_structure(out, schema)
    assert not structure.fatal and not structure.failing.any()
    outcomes = {o.rule.name: o for o in evaluate_rules(typed, schema)}
    assert not [n for n, o in outcomes.items() if o.rule.severity == "error" and not o.passed]
    for name in ("practice_staffed", "headcount_gap_within_half_of_need"):
        assert list(out["skill"][outcomes[name].failing]) == ["Network Security"], name
