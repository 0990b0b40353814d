"""Quality rules of consulting.certification_compliance."""

import numpy as np
import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from checks.consulting import CERTIFICATION_STATUSES, days_between
from mesh import rule
from mesh.types import Date


class CertificationCompliance(pa.DataFrameModel):
    snapshot_date: Series[Date] = pa.Field(description="Day whose end the status describes; the partition")
    certification_id: Series[int] = pa.Field(gt=0, description="Certificate (consulting.certifications)")
    consultant_id: Series[int] = pa.Field(gt=0, description="Consultant holding it")
    practice: Series[str] = pa.Field(nullable=True, description="Consultant's practice; empty when the HR master "
                                     "does not know the consultant")
    certification: Series[str] = pa.Field(description="Name of the certification")
    vendor: Series[str] = pa.Field(description="Body that issues it")
    issued_date: Series[Date] = pa.Field(description="Day the certificate was issued")
    expiry_date: Series[Date] = pa.Field(description="Last day the certificate is valid")
    days_to_expiry: Series[int] = pa.Field(description="Days from the snapshot day to the expiry; negative once "
                                           "expired")
    status: Series[str] = pa.Field(description="expired, expiring_30_days (0-30 days left), expiring_60_days "
                                   "(31-60), expiring_90_days (61-90) or valid (more than 90)")

    @pa.check("status", name="known_status",
              description="the status is expired, expiring_30_days, expiring_60_days, expiring_90_days or valid")
    def known_status(cls, status: Series[str]) -> Series[bool]:
        return status.isin(CERTIFICATION_STATUSES)

    @pa.dataframe_check(name="status_matches_days_to_expiry",
                        description="the status is the one the days to expiry give")
    def status_matches_days_to_expiry(cls, df: DataFrame) -> Series[bool]:
        days = df["days_to_expiry"]
        thresholds = [days < 0, days <= 30, days <= 60, days <= 90]
        expected = np.select(thresholds, CERTIFICATION_STATUSES[:4], default="valid")
        return df["status"] == expected

    @pa.dataframe_check(name="days_to_expiry_matches_dates",
                        description="days_to_expiry is the number of days from the snapshot day to the expiry date")
    def days_to_expiry_matches_dates(cls, df: DataFrame) -> Series[bool]:
        return days_between(df["expiry_date"], df["snapshot_date"]) == df["days_to_expiry"]

    @pa.dataframe_check(name="expiry_after_issue", description="a certificate expires after the day it is issued")
    def expiry_after_issue(cls, df: DataFrame) -> Series[bool]:
        return df["expiry_date"] > df["issued_date"]

    @pa.dataframe_check(name="issued_by_snapshot", description="the certificate was issued by the snapshot day")
    def issued_by_snapshot(cls, df: DataFrame) -> Series[bool]:
        return df["issued_date"] <= df["snapshot_date"]

    @pa.check("practice", name="consultant_in_master",
              description="the consultant is in the HR master (consulting.consultants)",
              ignore_na=False, **rule(severity="warn"))
    def consultant_in_master(cls, practice: Series[str]) -> Series[bool]:
        return practice.notna()

    @pa.check("status", name="not_expired", description="the certificate has not expired", **rule(severity="warn"))
    def not_expired(cls, status: Series[str]) -> Series[bool]:
        # A consultant still employed with a lapsed certificate: renew it or take it off client proposals.
        return status != "expired"
