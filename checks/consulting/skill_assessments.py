"""Quality rules of consulting.skill_assessments."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from checks.consulting import SKILLS, days_between
from mesh import rule
from mesh.types import Date


class SkillAssessments(pa.DataFrameModel):
    consultant_id: Series[int] = pa.Field(gt=0, description="Consultant assessed (consulting.consultants)")
    skill: Series[str] = pa.Field(description="Skill from the firm's taxonomy")
    skill_level: Series[int] = pa.Field(description="Assessed level, 1 (aware) to 5 (expert)")
    assessed_date: Series[Date] = pa.Field(description="Day of the assessment")
    recorded_date: Series[Date] = pa.Field(description="Day the HR system recorded it; the partition")

    @pa.check("skill_level", name="skill_level_in_scale", description="the level is between 1 and 5")
    def skill_level_in_scale(cls, level: Series[int]) -> Series[bool]:
        return level.between(1, 5)

    @pa.check("skill", name="known_skill", description="the skill is in the firm's skill taxonomy")
    def known_skill(cls, skill: Series[str]) -> Series[bool]:
        return skill.isin(SKILLS)

    @pa.dataframe_check(name="assessed_by_recording",
                        description="the assessment is not dated after the day it was recorded")
    def assessed_by_recording(cls, df: DataFrame) -> Series[bool]:
        return df["assessed_date"] <= df["recorded_date"]

    @pa.dataframe_check(name="assessment_recent_when_recorded",
                        description="recorded within a year of the assessment", **rule(severity="warn"))
    def assessment_recent_when_recorded(cls, df: DataFrame) -> Series[bool]:
        # Assessments run twice a year; one recorded a year after it happened is stale on arrival.
        return days_between(df["recorded_date"], df["assessed_date"]) <= 365
