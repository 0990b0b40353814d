"""Quality rules of consulting.skill_gaps."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from checks.consulting import PRACTICES, SKILLS
from mesh import rule
from mesh.types import Date


class SkillGaps(pa.DataFrameModel):
    snapshot_date: Series[Date] = pa.Field(description="Day whose end the gaps describe; the partition")
    practice: Series[str] = pa.Field(isin=PRACTICES, description="Practice")
    skill: Series[str] = pa.Field(isin=SKILLS, description="Skill the practice needs")
    required_level: Series[int] = pa.Field(description="Lowest assessed level (1-5) that counts as qualified")
    headcount_needed: Series[int] = pa.Field(gt=0, description="Qualified consultants the practice needs")
    practice_headcount: Series[int] = pa.Field(ge=0, description="Consultants employed in the practice")
    assessed_consultant_count: Series[int] = pa.Field(ge=0, description="Of them, those assessed in the skill")
    qualified_consultant_count: Series[int] = pa.Field(ge=0, description="Of them, those at or above the "
                                                       "required level")
    best_available_level: Series[int] = pa.Field(ge=0, le=5, description="Highest assessed level in the "
                                                 "practice; 0 when nobody is assessed")
    mean_available_level: Series[float] = pa.Field(nullable=True, description="Mean assessed level of those "
                                                   "assessed; empty when nobody is")
    level_gap: Series[int] = pa.Field(ge=0, description="Levels the best consultant lacks to meet the "
                                      "requirement; 0 when someone meets it")
    headcount_gap: Series[int] = pa.Field(ge=0, description="Qualified consultants missing: headcount needed "
                                          "minus qualified, at least 0")
    in_development_count: Series[int] = pa.Field(ge=0, description="Consultants below the level who trained in "
                                                 "the skill recently (contract parameter development_window_days)")
    is_gap: Series[bool] = pa.Field(description="True when qualified consultants are missing")

    @pa.check("required_level", name="required_level_in_scale", description="the required level is between 1 and 5")
    def required_level_in_scale(cls, level: Series[int]) -> Series[bool]:
        return level.between(1, 5)

    @pa.dataframe_check(name="counts_nested",
                        description="qualified consultants are among the assessed, who are among the practice's own")
    def counts_nested(cls, df: DataFrame) -> Series[bool]:
        return ((df["qualified_consultant_count"] <= df["assessed_consultant_count"])
                & (df["assessed_consultant_count"] <= df["practice_headcount"])
                & (df["in_development_count"] <= df["practice_headcount"] - df["qualified_consultant_count"]))

    @pa.dataframe_check(name="headcount_gap_is_shortfall",
                        description="headcount_gap is headcount_needed minus qualified consultants, at least 0")
    def headcount_gap_is_shortfall(cls, df: DataFrame) -> Series[bool]:
        shortfall = (df["headcount_needed"] - df["qualified_consultant_count"]).clip(lower=0)
        return (df["headcount_gap"] == shortfall) & (df["is_gap"] == (shortfall > 0))

    @pa.dataframe_check(name="level_gap_is_shortfall",
                        description="level_gap is required_level minus best_available_level, at least 0")
    def level_gap_is_shortfall(cls, df: DataFrame) -> Series[bool]:
        return df["level_gap"] == (df["required_level"] - df["best_available_level"]).clip(lower=0)

    @pa.check("mean_available_level", name="mean_available_level_in_scale",
              description="the mean available level is between 1 and 5")
    def mean_available_level_in_scale(cls, level: Series[float]) -> Series[bool]:
        return level.between(1, 5)

    @pa.check("practice_headcount", name="practice_staffed",
              description="the practice has consultants", **rule(severity="warn"))
    def practice_staffed(cls, headcount: Series[int]) -> Series[bool]:
        return headcount > 0

    @pa.dataframe_check(name="headcount_gap_within_half_of_need",
                        description="at most half of the needed headcount is missing", **rule(severity="warn"))
    def headcount_gap_within_half_of_need(cls, df: DataFrame) -> Series[bool]:
        # More than half the needed people missing: the director should staff or train now.
        return df["headcount_gap"] <= df["headcount_needed"] / 2
