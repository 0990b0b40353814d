"""Quality rules of consulting.consultant_profiles."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from checks.consulting import CAREER_LEVELS, PRACTICES, list_length
from mesh import rule
from mesh.types import Date


class ConsultantProfiles(pa.DataFrameModel):
    snapshot_date: Series[Date] = pa.Field(description="Day whose end the profile describes; the partition")
    consultant_id: Series[int] = pa.Field(gt=0, description="Consultant (consulting.consultants)")
    name: Series[str] = pa.Field(description="Full name (personal data)")
    practice: Series[str] = pa.Field(isin=PRACTICES, description="Practice the consultant works in")
    career_level: Series[str] = pa.Field(isin=CAREER_LEVELS, description="Current grade")
    hire_date: Series[Date] = pa.Field(description="Day the consultant joined the firm")
    tenure_years: Series[float] = pa.Field(ge=0, description="Years since the hire date, one decimal")
    skills: Series[str] = pa.Field(nullable=True, description="Latest assessed level of each skill, strongest "
                                   "first: 'AWS 4, Terraform 3'; empty when never assessed")
    skill_count: Series[int] = pa.Field(ge=0, description="Skills assessed")
    mean_skill_level: Series[float] = pa.Field(nullable=True, description="Mean of the latest assessed levels "
                                               "(1-5); empty when never assessed")
    skills_in_training: Series[str] = pa.Field(nullable=True, description="Skills trained in the trailing 365 "
                                               "days after their latest assessment (or never assessed)")
    training_count_365_days: Series[int] = pa.Field(ge=0, description="Courses completed in the trailing 365 days")
    training_hours_365_days: Series[float] = pa.Field(ge=0, description="Hours of those courses")
    last_training_date: Series[Date] = pa.Field(nullable=True, description="Day of the latest course completed")
    certifications: Series[str] = pa.Field(nullable=True, description="Certifications held and not expired, "
                                           "separated by '; '")
    valid_certification_count: Series[int] = pa.Field(ge=0, description="Certifications held and not expired")
    next_certification_expiry_date: Series[Date] = pa.Field(nullable=True, description="Soonest expiry among "
                                                            "the certifications held")
    resume_key_skills: Series[str] = pa.Field(nullable=True, description="Skills the latest resume names "
                                              "(vocabulary match)")
    resume_skills_unassessed: Series[str] = pa.Field(nullable=True, description="Key skills of the resume that "
                                                     "no assessment confirms")
    resume_updated_date: Series[Date] = pa.Field(nullable=True, description="Day the latest resume was recorded")

    @pa.dataframe_check(name="hired_by_snapshot", description="the consultant was hired by the snapshot day")
    def hired_by_snapshot(cls, df: DataFrame) -> Series[bool]:
        return df["hire_date"] <= df["snapshot_date"]

    @pa.check("mean_skill_level", name="mean_skill_level_in_scale",
              description="the mean skill level is between 1 and 5")
    def mean_skill_level_in_scale(cls, level: Series[float]) -> Series[bool]:
        return level.between(1, 5)

    @pa.dataframe_check(name="skill_count_matches_skills", description="skill_count is the number of skills listed")
    def skill_count_matches_skills(cls, df: DataFrame) -> Series[bool]:
        return list_length(df["skills"]) == df["skill_count"]

    @pa.dataframe_check(name="certification_count_matches_certifications",
                        description="valid_certification_count is the number of certifications listed")
    def certification_count_matches_certifications(cls, df: DataFrame) -> Series[bool]:
        return list_length(df["certifications"], "; ") == df["valid_certification_count"]

    @pa.dataframe_check(name="certifications_held_not_expired",
                        description="the certificates listed have not expired on the snapshot day")
    def certifications_held_not_expired(cls, df: DataFrame) -> Series[bool]:
        return df["next_certification_expiry_date"].isna() | (df["next_certification_expiry_date"]
                                                              >= df["snapshot_date"])

    @pa.check("skill_count", name="skills_assessed",
              description="the consultant has at least one skill assessment", **rule(severity="warn"))
    def skills_assessed(cls, count: Series[int]) -> Series[bool]:
        return count > 0

    @pa.check("resume_updated_date", name="resume_on_file",
              description="the consultant has a resume on file", ignore_na=False, **rule(severity="warn"))
    def resume_on_file(cls, updated: Series[Date]) -> Series[bool]:
        return updated.notna()
