"""Quality rules of consulting.consultants."""

from datetime import date

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from checks.consulting import CAREER_LEVELS, CHANGES, PRACTICES
from mesh import rule
from mesh.types import Date


class Consultants(pa.DataFrameModel):
    consultant_id: Series[int] = pa.Field(gt=0, description="HR employee id; the consultant's identity")
    name: Series[str] = pa.Field(description="Full name (personal data)")
    practice: Series[str] = pa.Field(nullable=True, description="Practice the consultant works in "
                                     "(Cloud, Data, Engineering, Security, Strategy); never empty")
    career_level: Series[str] = pa.Field(description="Grade: Analyst, Consultant, Senior Consultant, Manager, "
                                         "Principal")
    hire_date: Series[Date] = pa.Field(description="Day the consultant joined the firm")
    leave_date: Series[Date] = pa.Field(nullable=True, description="Day the consultant left; only on 'leave' records")
    change: Series[str] = pa.Field(description="What the record says: hire, promotion, leave, or migration "
                                   "(the state carried over when the HR system was migrated)")
    recorded_date: Series[Date] = pa.Field(description="Day the HR system recorded the change; the partition")

    @pa.check("practice", name="consultant_has_practice",
              description="every consultant belongs to a practice", ignore_na=False)
    def consultant_has_practice(cls, practice: Series[str]) -> Series[bool]:
        return practice.notna()

    @pa.check("practice", name="known_practice", description="the practice is one of the firm's practices")
    def known_practice(cls, practice: Series[str]) -> Series[bool]:
        return practice.isin(PRACTICES)

    @pa.check("career_level", name="known_career_level", description="the grade is one of the firm's career levels")
    def known_career_level(cls, level: Series[str]) -> Series[bool]:
        return level.isin(CAREER_LEVELS)

    @pa.check("change", name="known_change", description="the change is hire, promotion, leave or migration")
    def known_change(cls, change: Series[str]) -> Series[bool]:
        return change.isin(CHANGES)

    @pa.dataframe_check(name="hired_by_recording",
                        description="the hire date is not after the day the change was recorded")
    def hired_by_recording(cls, df: DataFrame) -> Series[bool]:
        return df["hire_date"] <= df["recorded_date"]

    @pa.dataframe_check(name="leave_date_only_when_leaving",
                        description="a leave date is given exactly on 'leave' records")
    def leave_date_only_when_leaving(cls, df: DataFrame) -> Series[bool]:
        return (df["change"] == "leave") == df["leave_date"].notna()

    @pa.dataframe_check(name="leave_not_before_hire", description="a consultant leaves on or after the hire date")
    def leave_not_before_hire(cls, df: DataFrame) -> Series[bool]:
        return df["leave_date"].isna() | (df["leave_date"] >= df["hire_date"])

    @pa.check("hire_date", name="hire_date_plausible",
              description="hired in 1995 or later (the firm's founding)", **rule(severity="warn"))
    def hire_date_plausible(cls, hire_date: Series[Date]) -> Series[bool]:
        # The firm was founded in 1995; an earlier hire date is most likely a typing error.
        return hire_date >= date(1995, 1, 1)
