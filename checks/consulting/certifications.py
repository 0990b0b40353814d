"""Quality rules of consulting.certifications."""

import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from checks.consulting import VENDORS, days_between
from mesh import rule
from mesh.types import Date


class Certifications(pa.DataFrameModel):
    certification_id: Series[int] = pa.Field(gt=0, description="HR id of this certificate (a renewal gets a new one)")
    consultant_id: Series[int] = pa.Field(gt=0, description="Consultant certified (consulting.consultants)")
    certification: Series[str] = pa.Field(description="Name of the certification")
    vendor: Series[str] = pa.Field(description="Body that issues the certification")
    issued_date: Series[Date] = pa.Field(description="Day the certificate was issued")
    expiry_date: Series[Date] = pa.Field(description="Last day the certificate is valid")
    recorded_date: Series[Date] = pa.Field(description="Day the HR system recorded it; the partition")

    @pa.dataframe_check(name="expiry_after_issue", description="a certificate expires after the day it is issued")
    def expiry_after_issue(cls, df: DataFrame) -> Series[bool]:
        return df["expiry_date"] > df["issued_date"]

    @pa.dataframe_check(name="issued_by_recording",
                        description="the issue date is not after the day the certificate was recorded")
    def issued_by_recording(cls, df: DataFrame) -> Series[bool]:
        return df["issued_date"] <= df["recorded_date"]

    @pa.check("vendor", name="known_vendor",
              description="the vendor is one the compliance team follows", **rule(severity="warn"))
    def known_vendor(cls, vendor: Series[str]) -> Series[bool]:
        # A new vendor is not an error, but the compliance team should add it to the list it follows.
        return vendor.isin(VENDORS)

    @pa.dataframe_check(name="validity_at_most_five_years",
                        description="a certificate is valid for at most five years", **rule(severity="warn"))
    def validity_at_most_five_years(cls, df: DataFrame) -> Series[bool]:
        return days_between(df["expiry_date"], df["issued_date"]) <= 5 * 366
