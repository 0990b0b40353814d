"""Quality rules of consulting.certification_coverage."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from checks.consulting import PRACTICES
from mesh import rule
from mesh.types import Date

COVERAGE_TARGET = 0.5  # the firm's goal: at least half of each practice holds a current certificate


class CertificationCoverage(pa.DataFrameModel):
    snapshot_date: Series[Date] = pa.Field(description="Day whose end the coverage describes; the partition")
    practice: Series[str] = pa.Field(isin=PRACTICES, description="Practice")
    consultant_count: Series[int] = pa.Field(gt=0, description="Consultants employed in the practice")
    certified_consultant_count: Series[int] = pa.Field(ge=0, description="Of them, those holding at least one "
                                                       "certificate that has not expired")
    coverage_rate: Series[float] = pa.Field(description="certified_consultant_count / consultant_count")
    expiring_90_days_count: Series[int] = pa.Field(ge=0, description="Certificates expiring within 90 days")
    expired_count: Series[int] = pa.Field(ge=0, description="Certificates expired and not renewed")

    @pa.dataframe_check(name="certified_within_headcount", description="no more consultants certified than employed")
    def certified_within_headcount(cls, df: DataFrame) -> Series[bool]:
        return df["certified_consultant_count"] <= df["consultant_count"]

    @pa.dataframe_check(name="coverage_rate_matches_counts",
                        description="coverage_rate is certified_consultant_count / consultant_count")
    def coverage_rate_matches_counts(cls, df: DataFrame) -> Series[bool]:
        return (df["coverage_rate"] - df["certified_consultant_count"] / df["consultant_count"]).abs() < 1e-9

    @pa.check("coverage_rate", name="coverage_on_target",
              description="at least half of the practice holds a current certificate", **rule(severity="warn"))
    def coverage_on_target(cls, rate: Series[float]) -> Series[bool]:
        return rate >= COVERAGE_TARGET
