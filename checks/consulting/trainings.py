"""Quality rules of consulting.trainings."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from checks.consulting import SKILLS
from mesh import rule
from mesh.types import Date


class Trainings(pa.DataFrameModel):
    consultant_id: Series[int] = pa.Field(gt=0, description="Consultant trained (consulting.consultants)")
    course: Series[str] = pa.Field(description="Course completed")
    skill: Series[str] = pa.Field(description="Skill the course develops, from the firm's taxonomy")
    hours: Series[float] = pa.Field(description="Course length in hours")
    completed_date: Series[Date] = pa.Field(description="Day the consultant completed the course")
    recorded_date: Series[Date] = pa.Field(description="Day the learning system recorded it; the partition")

    @pa.check("hours", name="hours_positive", description="a course lasts more than 0 hours")
    def hours_positive(cls, hours: Series[float]) -> Series[bool]:
        return hours > 0

    @pa.check("skill", name="known_skill", description="the skill is in the firm's skill taxonomy")
    def known_skill(cls, skill: Series[str]) -> Series[bool]:
        return skill.isin(SKILLS)

    @pa.dataframe_check(name="completed_by_recording",
                        description="the completion is not dated after the day it was recorded")
    def completed_by_recording(cls, df: DataFrame) -> Series[bool]:
        return df["completed_date"] <= df["recorded_date"]

    @pa.check("hours", name="hours_plausible", description="a course lasts at most 80 hours", **rule(severity="warn"))
    def hours_plausible(cls, hours: Series[float]) -> Series[bool]:
        # The catalogue's longest course is 24 hours; beyond two working weeks is likely an entry error.
        return hours <= 80
